import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { LONG_POLL_MAX_MS } from "../../apps/api/src/config";
import { parseDuration } from "@k6-gate/shared";
import { ROOT } from "@k6-gate/testkit/paths";

/**
 * One recommendation for Flagger's webhook settings, wherever a user reads one: the
 * README's Canary, the chart's NOTES.txt, docs/deploy.md's step 6 and the example Canary.
 */

const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

/** The first ```yaml block after `heading` in a Markdown file. */
function yamlAfter(markdown: string, heading: string): string {
  const from = markdown.indexOf(heading);
  expect(from, `"${heading}" not found`).toBeGreaterThanOrEqual(0);
  const block = /```yaml\n([\s\S]*?)```/.exec(markdown.slice(from));
  expect(block, `no yaml block after "${heading}"`).not.toBeNull();
  return block?.[1] ?? "";
}

/** NOTES.txt's webhook snippet as YAML: template actions dropped, indentation kept. */
function notesYaml(notes: string): string {
  const lines = notes.split("\n");
  const start = lines.findIndex((line) => line.trim() === "webhooks:");
  const end = lines.findIndex((line, i) => i > start && line.trim() === "");
  return lines
    .slice(start, end)
    .join("\n")
    .replace(/\{\{-?[^}]*?-?\}\}/g, "");
}

interface Advice {
  url: string;
  timeout: unknown;
  retries: unknown;
  waitTimeout: unknown;
}

/** Every k6-gate webhook in a parsed document (a Canary or a `webhooks:` snippet). */
function webhooksIn(value: unknown): Advice[] {
  if (Array.isArray(value)) return value.flatMap(webhooksIn);
  if (typeof value !== "object" || value === null) return [];
  const record = value as Record<string, unknown>;
  if (typeof record.url === "string" && record.url.includes("/launch-test")) {
    const metadata = (record.metadata ?? {}) as Record<string, unknown>;
    return [
      {
        url: record.url,
        timeout: record.timeout,
        retries: record.retries,
        waitTimeout: metadata.wait_timeout,
      },
    ];
  }
  return Object.values(record).flatMap(webhooksIn);
}

const sources: Record<string, Advice[]> = {
  "README.md": webhooksIn(parse(yamlAfter(read("README.md"), "## Using it from a Canary"))),
  "charts/k6-gate/templates/NOTES.txt": webhooksIn(
    parse(notesYaml(read("charts/k6-gate/templates/NOTES.txt"))),
  ),
  "docs/deploy.md": webhooksIn(parse(yamlAfter(read("docs/deploy.md"), "**6. Gate a canary.**"))),
  "k8s/examples/canary.yaml": webhooksIn(parse(read("k8s/examples/canary.yaml"))),
};

describe("the webhook settings k6-gate recommends", () => {
  it.each(Object.keys(sources))("%s shows one k6-gate webhook", (source) => {
    expect(sources[source]).toHaveLength(1);
  });

  it("are the same everywhere: timeout, retries, and no wait_timeout", () => {
    const settings = Object.entries(sources).map(([source, [hook]]) => ({
      source,
      timeout: hook?.timeout,
      retries: hook?.retries,
      waitTimeout: hook?.waitTimeout,
    }));
    const [first] = settings;
    for (const each of settings) {
      expect({ ...each, source: first?.source }).toEqual(first);
    }
    expect(first?.waitTimeout).toBeUndefined();
  });

  it("hold the call no longer than the API holds it (LONG_POLL_MAX)", () => {
    const timeout = parseDuration(String(sources["README.md"]?.[0]?.timeout));
    expect(timeout).toBeGreaterThan(0);
    expect(timeout).toBeLessThan(LONG_POLL_MAX_MS);
  });

  it("carry the token in the URL where the install set one", () => {
    // The README's install sets webhook.token.existingSecret; the chart adds it when set.
    expect(sources["README.md"]?.[0]?.url).toMatch(/\/launch-test\?token=<WEBHOOK_TOKEN>$/);
    expect(read("charts/k6-gate/templates/NOTES.txt")).toMatch(
      /\/launch-test\{\{ if \.Values\.webhook\.token\.existingSecret \}\}\?token=<WEBHOOK_TOKEN>\{\{ end \}\}/,
    );
  });
});
