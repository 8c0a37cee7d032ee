import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { K6_BIN } from "@k6-gate/testkit/paths";
import { startTarget, type Target } from "@k6-gate/testkit/target";
import { buildK6Environment } from "../apps/worker/src/k6/environment";
import { parseExecutionRequirements } from "../apps/worker/src/k6/execution-requirements";
import { summaryOf } from "../apps/worker/src/k6/measured-summary";
import { mergeStreamSnapshots } from "../apps/worker/src/k6/merge-streams";
import { MetricStream } from "../apps/worker/src/k6/metric-stream";
import { readSummary } from "../apps/worker/src/k6/summary";

/**
 * One test split in three execution segments, as k6-operator splits a TestRun with
 * `parallelism: 3` (issue 33): three real k6 processes, each with its own metric stream.
 * Their merge is what one k6 that took every sample would have measured, and thresholds
 * judged on it hold over the whole test, where each k6 judged only its share.
 */

const run = promisify(execFile);
const SEGMENTS = ["0:1/3", "1/3:2/3", "2/3:1"];
const SEQUENCE = "0,1/3,2/3,1";
const SCRIPT = `
import http from 'k6/http';
export const options = {
  scenarios: { load: { executor: 'shared-iterations', vus: 3, iterations: 30 } },
  thresholds: { iterations: ['count>=25'], http_req_duration: ['p(95)<5000'] },
};
export default function () { http.get(__ENV.TARGET + '/slow?ms=' + (5 + (__ITER % 7) * 3)); }
`;
const THRESHOLD_METRICS = ["iterations", "http_req_duration"];

let target: Target;
const dir = mkdtempSync(join(tmpdir(), "k6-gate-segments-"));
beforeAll(async () => {
  target = await startTarget();
  writeFileSync(join(dir, "script.js"), SCRIPT);
});
afterAll(async () => {
  await target.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = () => ({
  ...buildK6Environment({ runDir: dir, envVars: { TARGET: target.url }, secrets: {} }),
});

/** One k6 of the three: its exit code and the lines of its metric stream. */
async function segment(index: number) {
  const out = join(dir, `segment-${index}.json`);
  const args = ["run", "--quiet", "--no-color", "--out", `json=${out}`];
  args.push(`--execution-segment=${SEGMENTS[index]}`, `--execution-segment-sequence=${SEQUENCE}`);
  const exitCode = await run(K6_BIN, [...args, "script.js"], { cwd: dir, env: env() }).then(
    () => 0,
    (error: { code?: number }) => error.code ?? -1,
  );
  return { exitCode, lines: readFileSync(out, "utf8") };
}

function streamOf(text: string): MetricStream {
  const stream = new MetricStream();
  stream.keep(THRESHOLD_METRICS);
  stream.push(text);
  stream.end();
  return stream;
}

describe("a test in three execution segments (real k6, as k6-operator runs parallelism 3)", () => {
  it("merges into what one stream of every sample holds, and judges the whole test", async () => {
    const inspected = await run(
      K6_BIN,
      ["inspect", "--execution-requirements", "--include-system-env-vars", "script.js"],
      { cwd: dir, env: env() },
    );
    const thresholds = parseExecutionRequirements(inspected.stdout)?.thresholds ?? [];
    expect(thresholds).toHaveLength(2);
    const segments = await Promise.all(SEGMENTS.map((_, i) => segment(i)));

    // Each k6 judged its own third: 10 iterations, so count>=25 failed in every one.
    expect(segments.map((s) => s.exitCode)).toEqual([99, 99, 99]);

    const merged = MetricStream.fromSnapshot(
      mergeStreamSnapshots(segments.map((s) => streamOf(s.lines).snapshot())),
    );
    const together = streamOf(segments.map((s) => s.lines).join(""));
    for (const metric of ["iterations", "http_reqs", "http_req_duration"]) {
      const a = merged.aggregateOf(metric);
      const b = together.aggregateOf(metric);
      expect(a?.count, metric).toBe(b?.count);
      expect(a?.sum, metric).toBeCloseTo(b?.sum ?? Number.NaN, 6);
      expect(a?.min, metric).toBe(b?.min);
      expect(a?.max, metric).toBe(b?.max);
      expect([...(a?.values ?? [])].sort(), metric).toEqual([...(b?.values ?? [])].sort());
    }
    expect(merged.aggregateOf("iterations")?.count).toBe(30);
    expect(merged.http).toEqual(together.http);

    const judged = (stream: MetricStream) =>
      readSummary(summaryOf(stream, thresholds, [], false)).thresholds.map(
        (t) => `${t.metric} ${t.expression} ${t.ok ? "holds" : "crossed"}`,
      );
    // The whole test holds both thresholds, as one k6 running all 30 iterations would.
    expect(judged(merged).sort()).toEqual([
      "http_req_duration p(95)<5000 holds",
      "iterations count>=25 holds",
    ]);
    expect(judged(streamOf(segments[0]?.lines ?? ""))).toContain("iterations count>=25 crossed");
  });
});
