#!/usr/bin/env node
// Writes the values table of charts/k6-gate/README.md from the chart's values.yaml
// (helm-docs style: a `# -- description` comment above each documented key) and the types
// of values.schema.json. The README's other text is written by hand; the table sits between
//   <!-- values:start --> and <!-- values:end -->.
//
//   node scripts/chart-readme.mjs           rewrite the table
//   node scripts/chart-readme.mjs --check   exit 1 when the README is not up to date
//                                           (`make chart-readme-check`, part of `make test`)
//
// Every value must be documented: a key without a `# --` comment is documented by its
// children, and a leaf without one is an error, as is a key values.schema.json lacks (or
// one the schema allows that values.yaml lacks).
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isMap, parseDocument } from "yaml";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CHART = join(ROOT, "charts", "k6-gate");
const README = join(CHART, "README.md");
const START = "<!-- values:start -->";
const END = "<!-- values:end -->";

/** The text after the last `-- ` line of a comment, joined into one line; undefined if none. */
function description(comment) {
  if (!comment) return undefined;
  const lines = comment.split("\n").map((line) => line.trim());
  const at = lines.findLastIndex((line) => line.startsWith("-- "));
  if (at < 0) return undefined;
  return [lines[at].slice(3), ...lines.slice(at + 1)].join(" ").trim();
}

/** The schema node of a values path, following $ref; undefined when the schema lacks it. */
function schemaAt(schema, path) {
  const resolve = (node) =>
    node?.$ref
      ? resolve(
          node.$ref
            .slice(2)
            .split("/")
            .reduce((n, k) => n[k], schema),
        )
      : node;
  let node = resolve(schema);
  for (const key of path) {
    node = resolve(node?.properties?.[key]);
    if (!node) return undefined;
  }
  return node;
}

function typeOf(node) {
  if (node.oneOf) return node.oneOf.map(typeOf).join(" or ");
  const types = [node.type ?? "any"].flat().map((t) => (t === "array" ? "list" : t));
  if (node.enum) return `${types.join("/")}: ${node.enum.join(", ")}`;
  return types.join(" or ");
}

const cell = (text) => text.replaceAll("|", "\\|").replaceAll("\n", " ");

function rows(doc, schema) {
  const out = [];
  const problems = [];
  const visit = (map, path) => {
    // A key the schema allows but values.yaml lacks would be undocumented.
    const keys = new Set(map.items.map((pair) => String(pair.key.value)));
    for (const key of Object.keys(schemaAt(schema, path)?.properties ?? {})) {
      if (!keys.has(key) && !(path.length === 0 && key === "global"))
        problems.push(`${[...path, key].join(".")}: in values.schema.json, not in values.yaml`);
    }
    map.items.forEach((pair, i) => {
      const key = String(pair.key.value);
      const keyPath = [...path, key];
      // The first key's comment is kept on its map, the others' on the key.
      const comment =
        i === 0 ? (map.commentBefore ?? pair.key.commentBefore) : pair.key.commentBefore;
      const text = description(comment);
      const node = schemaAt(schema, keyPath);
      if (!node) problems.push(`${keyPath.join(".")}: not in values.schema.json`);
      if (text === undefined) {
        if (isMap(pair.value) && pair.value.items.length > 0) return visit(pair.value, keyPath);
        problems.push(`${keyPath.join(".")}: no "# -- description" comment in values.yaml`);
        return;
      }
      const value = pair.value?.toJSON();
      out.push({
        key: keyPath.join("."),
        type: node ? typeOf(node) : "?",
        default: value === undefined ? "null" : JSON.stringify(value),
        description: text,
      });
    });
  };
  if (!isMap(doc.contents)) throw new Error("values.yaml: not a mapping");
  visit(doc.contents, []);
  return { out, problems };
}

function valuesTable() {
  const doc = parseDocument(readFileSync(join(CHART, "values.yaml"), "utf8"));
  if (doc.errors.length) throw new Error(doc.errors.map((e) => e.message).join("\n"));
  const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8"));
  const { out, problems } = rows(doc, schema);
  if (problems.length) throw new Error(`charts/k6-gate/values.yaml:\n  ${problems.join("\n  ")}`);
  return [
    "| Key | Type | Default | Description |",
    "| --- | --- | --- | --- |",
    ...out.map(
      (r) => `| \`${r.key}\` | ${cell(r.type)} | \`${cell(r.default)}\` | ${cell(r.description)} |`,
    ),
  ].join("\n");
}

function render(readme) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${README}: no ${START} ... ${END} markers`);
  return `${readme.slice(0, start + START.length)}\n${valuesTable()}\n${readme.slice(end)}`;
}

const current = readFileSync(README, "utf8");
let wanted;
try {
  wanted = render(current);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
if (process.argv.includes("--check")) {
  if (wanted !== current) {
    console.error(
      "charts/k6-gate/README.md is not up to date with values.yaml: run `node scripts/chart-readme.mjs`",
    );
    process.exit(1);
  }
  console.log("charts/k6-gate/README.md: values table up to date");
} else if (wanted !== current) {
  writeFileSync(README, wanted);
  console.log("charts/k6-gate/README.md: values table rewritten");
} else {
  console.log("charts/k6-gate/README.md: values table already up to date");
}
