import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { commonConfigShape, REMOVED_VARIABLES, removedVariableNotices } from "@k6-gate/shared";
import { apiConfigSchema } from "../../apps/api/src/config";
import { workerConfigSchema } from "../../apps/worker/src/config";
import { ROOT } from "@k6-gate/testkit/paths";

/**
 * docs/configuration.md and the config schemas say the same (issue 32): each table lists
 * exactly the variables its process reads, and each default is the schema's. A default
 * cell is `` `value` `` (parsed by the variable's own schema, it must give the schema's
 * default), "unset ..." (the schema has none), or, for the few whose default is not a
 * value, listed below.
 */
type Shape = Record<string, z.ZodType>;

/** The object schema under a config schema's transforms (zod pipes keep it as `in`). */
function shapeOf(schema: unknown): Shape {
  const node = schema as { shape?: Shape; in?: unknown };
  if (node.shape) return node.shape;
  if (node.in) return shapeOf(node.in);
  throw new Error("not an object schema");
}

/** Issue 32's bound on distinct variables across the three tables (flagger-k6-webhook has 8). */
const MAX_DOCUMENTED = 40;

/** Defaults that are not a value, with what the schema must give. */
const DESCRIBED_DEFAULTS: Record<string, { cell: RegExp; value: unknown }> = {
  SLACK_API_URL: { cell: /^Slack's/, value: undefined },
};

interface Row {
  variable: string;
  defaultCell: string;
}

const DOC = readFileSync(join(ROOT, "docs/configuration.md"), "utf8");

/** The rows of one section's table: `VAR` (or `A` / `B`) | default | meaning. */
function rowsOf(title: string): Row[] {
  const start = DOC.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`docs/configuration.md has no section "${title}"`);
  const end = DOC.indexOf("\n## ", start + 1);
  const section = DOC.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^\| ((?:`[A-Z0-9_]+`(?: \/ )?)+) \| ([^|]*) \|/gm)].flatMap(
    ([, names = "", cell = ""]) =>
      [...names.matchAll(/`([A-Z0-9_]+)`/g)].map(([, variable = ""]) => ({
        variable,
        defaultCell: cell.trim(),
      })),
  );
}

const common = commonConfigShape as Shape;
const api = shapeOf(apiConfigSchema);
const worker = shapeOf(workerConfigSchema);
const only = (shape: Shape): Shape =>
  Object.fromEntries(Object.entries(shape).filter(([name]) => !(name in common)));

const TABLES: [string, Shape][] = [
  ["Both processes", common],
  ["API (`api`)", only(api)],
  ["Worker (`worker`)", only(worker)],
];

/** What is wrong with a row's default, or undefined. */
function defaultProblem({ variable, defaultCell }: Row, field: z.ZodType): string | undefined {
  const schemaDefault = field.parse(undefined);
  const described = DESCRIBED_DEFAULTS[variable];
  const shown = `${variable}: docs say ${JSON.stringify(defaultCell.slice(0, 40))}, the schema ${JSON.stringify(schemaDefault)}`;
  if (described) {
    return described.cell.test(defaultCell) && schemaDefault === described.value
      ? undefined
      : shown;
  }
  if (/^unset\b/.test(defaultCell)) return schemaDefault === undefined ? undefined : shown;
  const value = /^`([^`]*)`/.exec(defaultCell)?.[1];
  if (value === undefined) return `${variable}: its default cell is neither a value nor "unset"`;
  const documented = field.safeParse(value);
  return documented.success && JSON.stringify(documented.data) === JSON.stringify(schemaDefault)
    ? undefined
    : shown;
}

describe("docs/configuration.md against the config schemas", () => {
  it.each(TABLES)("%s: lists exactly the variables the process reads", (title, shape) => {
    expect(
      rowsOf(title)
        .map((row) => row.variable)
        .sort(),
    ).toEqual(Object.keys(shape).sort());
  });

  it.each(TABLES)("%s: gives each variable the schema's default", (title, shape) => {
    const problems = rowsOf(title).flatMap((row) => {
      const field = shape[row.variable];
      const problem = field && defaultProblem(row, field);
      return problem ? [problem] : [];
    });
    expect(problems).toEqual([]);
  });

  it("finds a default that differs, and a variable missing from a table", () => {
    const field = worker.LOCK_DURATION as z.ZodType;
    expect(defaultProblem({ variable: "LOCK_DURATION", defaultCell: "`30s`" }, field)).toBe(
      'LOCK_DURATION: docs say "`30s`", the schema 20000',
    );
    expect(defaultProblem({ variable: "LOCK_DURATION", defaultCell: "unset" }, field)).toMatch(
      /^LOCK_DURATION: docs say "unset"/,
    );
    expect(rowsOf("Both processes").map((row) => row.variable)).toContain("LOCK_DURATION");
  });

  it("documents at most 40 variables (issue 32: what operators need, the rest derived)", () => {
    const documented = new Set(TABLES.flatMap(([title]) => rowsOf(title)).map((r) => r.variable));
    expect(documented.size, [...documented].sort().join(" ")).toBeLessThanOrEqual(MAX_DOCUMENTED);
  });

  it("reads no variable it lists as removed, and warns of each one set", () => {
    const read = new Set([...Object.keys(api), ...Object.keys(worker)]);
    expect(Object.keys(REMOVED_VARIABLES).filter((name) => read.has(name))).toEqual([]);
    expect(removedVariableNotices({ KILL_GRACE: "2s", STALLED_INTERVAL: "" })).toEqual([
      "KILL_GRACE is no longer read and has no effect; now fixed at 10s",
    ]);
  });
});
