import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "@k6-gate/testkit/paths";
import { sourcesUnder } from "@k6-gate/testkit/sources";

/**
 * Issue 32, "One test harness": the harness is libs/testkit, which tests, benchmarks and the
 * demo import; nothing outside test/ imports from test/, the product never imports the
 * harness, and test files start processes through useStack, not by hand.
 */

/** Every module specifier a source names: static and dynamic imports, re-exports. */
function specifiersIn(text: string): string[] {
  const found = text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)"([^"]+)"/gm);
  return [...found].map((match) => match[1] ?? "");
}

const TEST_DIR = join(ROOT, "test") + sep;
const rel = (file: string) => relative(ROOT, file);

/** "file: specifier" for each import of `file` (its `text`) that resolves into test/. */
function testDirImports(file: string, text = readFileSync(file, "utf8")): string[] {
  return specifiersIn(text)
    .filter((spec) => spec.startsWith("."))
    .filter((spec) => resolve(dirname(file), spec).startsWith(TEST_DIR))
    .map((spec) => `${rel(file)}: ${spec}`);
}

const OUTSIDE_TEST = ["apps", "libs", "bench", "demo", "scripts", "bin"];
const rootSources = readdirSync(ROOT)
  .filter((entry) => /\.(m?[jt]s|tsx)$/.test(entry))
  .map((entry) => join(ROOT, entry));

describe("imports across the harness's boundary", () => {
  it("nothing outside test/ imports from test/", () => {
    const files = [...OUTSIDE_TEST.flatMap((top) => sourcesUnder(join(ROOT, top))), ...rootSources];
    expect(files.length).toBeGreaterThan(100);
    expect(files.flatMap((file) => testDirImports(file))).toEqual([]);
  });

  it("the product (apps/, libs/shared) never imports the test harness", () => {
    const product = [
      ...sourcesUnder(join(ROOT, "apps")),
      ...sourcesUnder(join(ROOT, "libs", "shared")),
    ];
    const offenders = product.flatMap((file) =>
      specifiersIn(readFileSync(file, "utf8"))
        .filter((spec) => spec.startsWith("@k6-gate/testkit") || spec.includes("testkit/"))
        .map((spec) => `${rel(file)}: ${spec}`),
    );
    expect(offenders).toEqual([]);
  });

  it("sees a static and a dynamic import of test/, not one of test-artifacts/", () => {
    const text = [
      'import { x } from "../test/support/x";',
      'const y = await import("../test/y");',
      'import { z } from "../test-artifacts/z";',
    ].join("\n");
    expect(testDirImports(join(ROOT, "bench", "example.ts"), text)).toEqual([
      "bench/example.ts: ../test/support/x",
      "bench/example.ts: ../test/y",
    ]);
  });
});

/** What starts a process by hand, as opposed to useStack (libs/testkit/src/use-stack.ts). */
const LOW_LEVEL_START =
  /(?<![\w.])(startRedis|startRedisCluster|startSentinelSet|startTlsRedis|startApi|startWorker|startAllInOne|launchApp|startProcess)\(/;

/**
 * Test files that start processes themselves, each for a reason useStack cannot serve.
 * Anything added here needs its reason; the list only shrinks.
 */
const STARTS_ITS_OWN: Record<string, string> = {
  "test/redis/tls.test.ts": "a TLS-only redis-server with certificates the test makes",
  "test/redis/sentinel.test.ts": "Sentinel failovers: a primary, replicas and sentinels",
  "test/redis/cluster.test.ts": "a Redis Cluster (useStack's Redis is one server)",
  "test/security/redis-auth.test.ts":
    "an unauthenticated redis-server, and processes that must refuse to start on it",
  "test/config-errors.test.ts": "processes that must fail to start: nothing to wait for",
};

// Test files only: shared scenario modules (test/scenarios) and the soak are harness code.
const testFiles = sourcesUnder(join(ROOT, "test")).filter((file) => file.endsWith(".test.ts"));

describe("test files start processes through useStack", () => {
  it("only the listed files call the low-level starters, each for its reason", () => {
    const offenders = testFiles
      .filter((file) => LOW_LEVEL_START.test(readFileSync(file, "utf8")))
      .map(rel)
      .filter((file) => !(file in STARTS_ITS_OWN));
    expect(offenders).toEqual([]);
  });

  it("lists no file that no longer needs it", () => {
    const starting = new Set(
      testFiles.filter((file) => LOW_LEVEL_START.test(readFileSync(file, "utf8"))).map(rel),
    );
    expect(Object.keys(STARTS_ITS_OWN).filter((file) => !starting.has(file))).toEqual([]);
  });
});
