import { describe, expect, it } from "vitest";
import {
  beyondLimit,
  comparisonLine,
  formatChange,
  parseLimit,
  parseMetadata,
  type ComparisonEntry,
  type RunRecord,
  type RunResult,
} from "@k6-gate/shared";
import {
  baselineRunsOf,
  compareToBaseline,
  judgeRegression,
} from "../../apps/worker/src/regression";

const P95 = "http_req_duration:p(95)";

function metadataIssues(raw: Record<string, string>): string[] {
  const issues: string[] = [];
  parseMetadata({ script: "export default () => {}", ...raw }, (key, message) =>
    issues.push(`${key}: ${message}`),
  );
  return issues;
}

const passed: RunResult = {
  verdict: "pass",
  outcome: "passed",
  reason: "all 2 thresholds passed",
  exitCode: 0,
  thresholds: [],
  metrics: {
    httpReqDurationAvg: null,
    httpReqDurationP95: null,
    httpReqFailedRate: null,
    iterations: null,
    checksRate: null,
  },
  cloudUrl: null,
  durationMs: 1000,
  warnings: [],
};

/** A finished run of `checksum` as history holds it. */
function historic(
  checksum: string,
  p95: number,
  overrides: Partial<RunRecord> = {},
  digest = "script-a",
): RunRecord {
  return {
    id: `run-${checksum}-${Math.random()}`,
    runKey: "k",
    namespace: "shop",
    name: "checkout",
    phase: "Progressing",
    checksum,
    status: "finished",
    verdict: "pass",
    result: { ...passed, testDigest: digest, stats: { [P95]: p95 } },
    ...overrides,
  } as RunRecord;
}

describe("max_regression metadata", () => {
  it("takes relative and absolute limits, up or down", () => {
    expect(parseLimit("+20%")).toEqual({ direction: 1, amount: 20, relative: true });
    expect(parseLimit("+0.01")).toEqual({ direction: 1, amount: 0.01, relative: false });
    expect(parseLimit("-2%")).toEqual({ direction: -1, amount: 2, relative: true });
    expect(parseLimit("20%")).toBeUndefined();
  });

  it("names each bad entry", () => {
    expect(
      metadataIssues({
        max_regression: JSON.stringify({
          "http_req_duration:p95": "+20%",
          "http_req_failed:rate": 0.01,
          "checks:rate": "-0.02",
        }),
      }),
    ).toEqual([
      expect.stringMatching(/^max_regression: "http_req_duration:p95" must be "metric:stat"/),
      expect.stringMatching(/^max_regression: "http_req_failed:rate" must map to a change/),
    ]);
    expect(metadataIssues({ max_regression: "[1]" })).toEqual([
      "max_regression: must be a JSON object",
    ]);
    expect(metadataIssues({ baseline_runs: "0" })).toEqual([
      "baseline_runs: must be between 1 and 50, got 0",
    ]);
  });

  it("accepts sub-metrics and any percentile", () => {
    expect(
      metadataIssues({
        max_regression: JSON.stringify({ "http_req_duration{status:200}:p(99.9)": "+10%" }),
      }),
    ).toEqual([]);
  });
});

describe("limits", () => {
  const limit = (text: string) => parseLimit(text)!;
  it("is beyond a relative limit only past it", () => {
    expect(beyondLimit(60, 50, limit("+20%"))).toBe(false);
    expect(beyondLimit(60.01, 50, limit("+20%"))).toBe(true);
    expect(beyondLimit(10, 50, limit("+20%"))).toBe(false);
  });
  it("bounds a fall with a minus limit", () => {
    expect(beyondLimit(0.97, 1, limit("-0.02"))).toBe(true);
    expect(beyondLimit(0.99, 1, limit("-0.02"))).toBe(false);
  });
  it("allows no growth of a relative limit on a baseline of 0", () => {
    expect(beyondLimit(0.001, 0, limit("+50%"))).toBe(true);
    expect(beyondLimit(0.001, 0, limit("+0.01"))).toBe(false);
  });
});

describe("the baseline", () => {
  const run = { runId: "now", phase: "Progressing", checksum: "v7" };

  it("takes the newest passed run of each earlier revision, same phase and script, k6 not saturated", () => {
    const history = [
      historic("v7", 999), // the revision under test
      historic("v6", 61),
      historic("v6", 62), // an older run of the same revision: one per revision
      historic("v5", 55, { verdict: "fail" }),
      historic("v4", 54, { phase: "Promoting" }),
      historic("v3", 53, {}, "script-b"),
      historic("v3", 53, {
        result: {
          ...passed,
          testDigest: "script-a",
          stats: { [P95]: 53 },
          saturation: { share: 0.9, samples: 20, cpus: 1, peakCpus: 1 },
        },
      }),
      historic("v2", 52),
      historic("v1", 51),
    ];
    const chosen = baselineRunsOf(history, run, "script-a", 5);
    expect(chosen.map((b) => b.checksum)).toEqual(["v6", "v2", "v1"]);
    expect(chosen[0]!.stats[P95]).toBe(61);
    expect(baselineRunsOf(history, run, "script-a", 2).map((b) => b.checksum)).toEqual([
      "v6",
      "v2",
    ]);
  });

  it("compares with the median of the baseline runs", () => {
    const baseline = [50, 52, 90, 51, 49].map((p95, i) => ({
      checksum: `v${i}`,
      stats: { [P95]: p95 },
    }));
    const comparison = compareToBaseline({ [P95]: 101 }, baseline, { [P95]: "+20%" });
    expect(comparison.baselineRuns).toBe(5);
    expect(comparison.entries[0]).toEqual({
      key: P95,
      observed: 101,
      baseline: 51,
      limit: "+20%",
      regressed: true,
    });
    // The default keys are compared even with no limit, but never regress.
    expect(comparison.entries[1]).toMatchObject({ key: "http_req_failed:rate", regressed: false });
  });
});

describe("the verdict after the comparison", () => {
  const baseline = [{ checksum: "v1", stats: { [P95]: 50 } }];

  it("fails a pass that regressed, naming metric, baseline, observed and limit", () => {
    const limits = { [P95]: "+20%" };
    const result = judgeRegression(
      passed,
      compareToBaseline({ [P95]: 100 }, baseline, limits),
      limits,
    );
    expect(result).toMatchObject({ verdict: "fail", outcome: "regressed" });
    expect(result.reason).toBe(
      "http_req_duration:p(95) 100 ms against a baseline of 50 ms (median of 1 passed revision): +100%, beyond max_regression +20%",
    );
  });

  it("passes with no baseline yet, and says so", () => {
    const limits = { [P95]: "+20%" };
    const result = judgeRegression(passed, compareToBaseline({ [P95]: 100 }, [], limits), limits);
    expect(result.verdict).toBe("pass");
    expect(result.reason).toBe(
      "all 2 thresholds passed; max_regression NOT applied: no baseline yet (no passed run of an earlier revision of this test; a passed run becomes the baseline)",
    );
    expect(comparisonLine(result.comparison)).toBe("p95 100 ms, no baseline yet");
  });

  it("fails for lack of evidence when the run has no value for a limited key", () => {
    const limits = { "grpc_req_duration:p(95)": "+20%" };
    const result = judgeRegression(passed, compareToBaseline({}, baseline, limits), limits);
    expect(result).toMatchObject({ verdict: "fail", outcome: "no_evidence" });
    expect(result.reason).toBe(
      "max_regression grpc_req_duration:p(95): the run has no such metric or stat",
    );
  });

  it("leaves a failed verdict alone", () => {
    const limits = { [P95]: "+20%" };
    const failed = { ...passed, verdict: "fail" as const, outcome: "thresholds_failed" as const };
    const result = judgeRegression(
      failed,
      compareToBaseline({ [P95]: 100 }, baseline, limits),
      limits,
    );
    expect(result.outcome).toBe("thresholds_failed");
    expect(result.comparison?.entries[0]?.regressed).toBe(true);
  });
});

describe("how a comparison reads", () => {
  const entry = (e: Partial<ComparisonEntry>): ComparisonEntry => ({
    key: P95,
    observed: 52.9,
    baseline: 44.8,
    limit: null,
    regressed: false,
    ...e,
  });

  it("says the headline change in one line", () => {
    expect(comparisonLine({ baselineRuns: 5, revisions: [], entries: [entry({})] })).toBe(
      "p95 52.9 ms, +18% vs baseline of 5 passed revisions",
    );
  });

  it("writes the change as its limit is written", () => {
    const rate = { key: "http_req_failed:rate", observed: 0.02, baseline: 0.005 };
    expect(formatChange(entry({ ...rate, limit: "+0.01" }))).toBe("+1.50 pts");
    expect(formatChange(entry({ ...rate, limit: "+50%" }))).toBe("+300%");
    expect(formatChange(entry({ observed: 50, baseline: 52 }))).toBe("-3.8%");
  });

  it("leads with the entry that regressed", () => {
    const line = comparisonLine({
      baselineRuns: 3,
      revisions: [],
      entries: [
        entry({}),
        entry({
          key: "http_req_failed:rate",
          observed: 0.03,
          baseline: 0.01,
          limit: "+0.01",
          regressed: true,
        }),
      ],
    });
    expect(line).toBe(
      "http_req_failed:rate 3.00%, +2.00 pts vs baseline of 3 passed revisions (max_regression +0.01)",
    );
  });
});
