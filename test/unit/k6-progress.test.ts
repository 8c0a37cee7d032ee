import { describe, expect, it } from "vitest";
import {
  expectedDurationMs,
  parseProgressLine,
  progressOf,
  startsProgressBlock,
  type K6Progress,
  type K6Scenario,
} from "@k6-gate/shared";
import { retryAfterSeconds } from "../../apps/api/src/retry-after";
import { K6Stdout } from "../../apps/worker/src/k6/k6-stdout";
import type { RunRecord } from "@k6-gate/shared";

/**
 * k6 v2.2.0's stdout without --quiet on a pipe (observed, three scenarios with setup():
 * banner, init and setup blocks, a block a second, the end-of-test summary, a last block).
 */
const BANNER = `
         /\\      Grafana   /‾‾/  
    /\\  /  \\     |\\  __   /  /   
   /  \\/    \\    | |/ /  /   ‾‾\\ 
  /          \\   |   (  |  (‾)  |
 / __________ \\  |_|\\_\\  \\_____/ 


     execution: local
        script: script.js
        output: -

     scenarios: (100.00%) 3 scenarios, 5 max VUs, 10m32s max duration (incl. graceful stop):
              * a: 2 looping VUs for 12s (gracefulStop: 30s)

`;
const SUMMARY = `

  █ TOTAL RESULTS 

    EXECUTION
    iterations...........: 60   4.9/s
    vus..................: 2    min=0      max=4

`;
const K6_STDOUT = `${BANNER}
Init      [   0% ] 0/1 VUs initialized
a   [   0% ]

Run       [ 100% ] setup()
a   [   0% ]

running (00m01.0s), 3/5 VUs, 2 complete and 0 interrupted iterations
a      [   8% ] 2 VUs    01.0s/12s
c      [  20% ] 1/2 VUs  1.0s/5s  1.48 iters/s
b    • [   0% ] waiting  1.0s    

running (00m12.0s), 2/5 VUs, 58 complete and 1 interrupted iterations
a      [ 100% ] 2 VUs    12.0s/12s      
c    ✓ [ 100% ] 0/2 VUs  5s              2.79 iters/s
b    ✓ [ 100% ] 1 VUs    00m01.5s/10m0s  3/3 iters, 3 per VU
${SUMMARY}
running (00m12.0s), 0/5 VUs, 60 complete and 1 interrupted iterations
a    ✓ [ 100% ] 2 VUs    12s            
c    ✓ [ 100% ] 0/2 VUs  5s              2.79 iters/s
b    ✓ [ 100% ] 1 VUs    00m01.5s/10m0s  3/3 iters, 3 per VU
`;

/** Feeds `text` in chunks of `size` bytes (1: every split a pipe could make). */
function filtered(text: string, size: number) {
  const kept: Buffer[] = [];
  const progress: K6Progress[] = [];
  const stdout = new K6Stdout(
    (chunk) => kept.push(Buffer.from(chunk)),
    (p) => progress.push(p),
  );
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) stdout.push(bytes.subarray(i, i + size));
  stdout.end();
  return { text: Buffer.concat(kept).toString("utf8"), progress };
}

describe("k6's progress lines", () => {
  it("reads VUs and iterations from a `running` line, nothing from others", () => {
    expect(
      parseProgressLine("running (00m12.0s), 2/5 VUs, 58 complete and 1 interrupted iterations"),
    ).toEqual({ vus: 2, maxVUs: 5, iterations: 58, interrupted: 1 });
    expect(
      parseProgressLine("running (1h02m03.0s), 0/1 VUs, 8 complete and 0 interrupted iterations  "),
    ).toEqual({ vus: 0, maxVUs: 1, iterations: 8, interrupted: 0 });
    expect(parseProgressLine("default   [  25% ] 1 VUs  1.0s/4s")).toBeUndefined();
    expect(parseProgressLine("    iterations...........: 8   1.995781/s")).toBeUndefined();
    expect(parseProgressLine("running (01.0s), 1/1 VUs, 1 complete")).toBeUndefined();
  });

  it("a block starts at a `running` line or a phase bar, not at a scenario's bar", () => {
    expect(startsProgressBlock("Init      [   0% ] 0/1 VUs initialized")).toBe(true);
    expect(startsProgressBlock("Run       [ 100% ] setup()")).toBe(true);
    expect(startsProgressBlock("default   [  25% ] 1 VUs  1.0s/4s")).toBe(false);
    expect(startsProgressBlock("              * default: 1 looping VUs for 4s")).toBe(false);
  });
});

describe("K6Stdout", () => {
  it("takes the progress blocks out and keeps banner and summary as k6 wrote them", () => {
    for (const size of [1, 7, 4096]) {
      const { text, progress } = filtered(K6_STDOUT, size);
      // Blank lines stay but the one ending a block (the summary's first here).
      expect(text).toBe(`${BANNER}\n${SUMMARY.slice(1)}\n`);
      expect(progress).toEqual([
        { vus: 3, maxVUs: 5, iterations: 2, interrupted: 0 },
        { vus: 2, maxVUs: 5, iterations: 58, interrupted: 1 },
        { vus: 0, maxVUs: 5, iterations: 60, interrupted: 1 },
      ]);
    }
  });

  it("passes a long line on as it streams, even one that reads like progress", () => {
    const long = `running (${"x".repeat(2000)})\n`;
    const { text, progress } = filtered(`${long}tail without newline`, 100);
    expect(text).toBe(`${long}tail without newline`);
    expect(progress).toEqual([]);
  });

  it("keeps a bar-like line outside a block (handleSummary's own text)", () => {
    const text = "summary\nscore     [ 50% ] of the target\n";
    expect(filtered(text, 3).text).toBe(text);
  });
});

const scenario = (fields: Partial<K6Scenario>): K6Scenario => ({
  name: "s",
  executor: "constant-vus",
  ...fields,
});

describe("expectedDurationMs", () => {
  it("is the latest end of a scenario, without graceful stops", () => {
    expect(expectedDurationMs({ scenarios: [scenario({ duration: "20s" })] })).toBe(20_000);
    expect(
      expectedDurationMs({
        scenarios: [
          scenario({ duration: "1m", gracefulStop: "30s" }),
          scenario({
            executor: "ramping-vus",
            startTime: "30s",
            stages: [
              { duration: "30s", target: 10 },
              { duration: "1m30s", target: 0 },
            ],
          }),
        ],
      }),
    ).toBe(150_000);
  });

  it("is unknown when iterations decide a scenario's time, or there is no scenario", () => {
    expect(
      expectedDurationMs({
        scenarios: [
          scenario({ duration: "20s" }),
          scenario({ executor: "shared-iterations", iterations: 8 }),
        ],
      }),
    ).toBeNull();
    expect(expectedDurationMs({ scenarios: [] })).toBeNull();
  });
});

const running = (fields: Partial<RunRecord>) =>
  ({
    status: "running",
    startedAt: 1_000,
    k6StartedAt: 1_500,
    expectedMs: 30_000,
    k6Progress: { vus: 1, maxVUs: 1, iterations: 4, interrupted: 0 },
    ...fields,
  }) as RunRecord;

describe("a running run's progress", () => {
  it("counts from k6's start, expects the script's time, else the last run's", () => {
    expect(progressOf(running({}), 9_500, 12_000)).toEqual({
      elapsedMs: 8_000,
      expectedMs: 30_000,
      expectedFrom: "script",
      vus: 1,
      maxVUs: 1,
      iterations: 4,
      interrupted: 0,
    });
    expect(
      progressOf(running({ k6StartedAt: null, expectedMs: null, k6Progress: null }), 9_000, 12_000),
    ).toEqual({ elapsedMs: 8_000, expectedMs: 12_000, expectedFrom: "previous run" });
    expect(progressOf(running({ expectedMs: null }), 9_500)?.expectedFrom).toBeNull();
    expect(progressOf(running({ status: "queued", startedAt: null }), 9_500)).toBeNull();
  });

  it("Retry-After is the expected time left, from 1 to 30 seconds", () => {
    const run = running({});
    const at = (elapsedMs: number, expectedMs: number | null) =>
      retryAfterSeconds(run, { elapsedMs, expectedMs, expectedFrom: "script" });
    expect(at(8_000, 30_000)).toBe(22);
    expect(at(8_000, 120_000)).toBe(30);
    expect(at(40_000, 30_000)).toBe(1);
    expect(at(8_000, null)).toBe(2);
  });
});
