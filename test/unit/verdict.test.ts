import { describe, expect, it } from "vitest";
import { emptyMetrics } from "@k6-gate/shared";
import type { K6Exit } from "../../apps/worker/src/k6/k6-exit";
import { setupFailure, verdictOf } from "../../apps/worker/src/k6/verdict";
import { exitOf, findingsOf } from "./k6-exit";

/**
 * The verdict table: what each way k6 can end becomes. The evidence rules behind a k6 pass
 * (exit 0) are in evidence.test.ts; this file covers every exit code, signals and timeouts.
 */

/** A run with evidence: 10 iterations, one sampled threshold that held, one that failed. */
const findings = findingsOf({
  iterations: { count: 10, rate: 5 },
  checks: { passes: 10, fails: 0, value: 1, thresholds: { "rate>0.9": false } },
  http_req_duration: { avg: 120, "p(95)": 700, count: 10, thresholds: { "p(95)<500": true } },
});
/** The same run with every threshold held. */
const passingFindings = findingsOf({
  iterations: { count: 10, rate: 5 },
  checks: { passes: 10, fails: 0, value: 1, thresholds: { "rate>0.9": false } },
  http_req_duration: { avg: 120, "p(95)": 300, count: 10, thresholds: { "p(95)<500": false } },
});

const exitWith = (overrides: Partial<K6Exit> = {}): K6Exit =>
  exitOf(passingFindings, { durationMs: 4200, ...overrides });

describe("verdictOf: k6's exit codes", () => {
  it("0 with a threshold the summary marks as crossed fails: the summary outranks the exit code", () => {
    expect(verdictOf(exitWith({ findings }))).toMatchObject({
      verdict: "fail",
      outcome: "thresholds_failed",
      reason: "1 of 2 thresholds failed",
    });
  });

  it("0 with evidence passes, and carries k6's results through", () => {
    expect(verdictOf(exitWith())).toEqual({
      verdict: "pass",
      outcome: "passed",
      reason: "all 2 thresholds passed",
      exitCode: 0,
      thresholds: passingFindings.thresholds,
      metrics: passingFindings.metrics,
      cloudUrl: null,
      durationMs: 4200,
      warnings: [],
    });
  });

  it("0 without thresholds passes on the evidence alone, and says so", () => {
    const result = verdictOf(exitWith({ findings: findingsOf({ iterations: { count: 3 } }) }));
    expect(result.verdict).toBe("pass");
    expect(result.reason).toBe("k6 finished (no thresholds defined)");
    expect(result.thresholds).toEqual([]);
  });

  // k6's errext/exitcodes: the codes k6-gate names, and k6's others (cloud, setup/teardown
  // timeouts, engine, config, REST API, panic, marked as failed) which are errors.
  const table: [code: number, outcome: string, reason: string][] = [
    [99, "thresholds_failed", "1 of 2 thresholds failed"],
    [105, "aborted", "k6 run was aborted: boom"],
    [107, "script_error", "script exception: boom"],
    [108, "test_aborted", "test.abort() called by the script: boom"],
    [255, "invalid_script", "invalid script or options: boom"],
    [97, "cloud_run_failed", "the k6 Cloud test run failed: boom"],
    [100, "setup_timeout", "setup() ran longer than its setupTimeout: boom"],
    [101, "teardown_timeout", "teardown() ran longer than its teardownTimeout: boom"],
    [102, "timeout", "k6 stopped the test on one of its own time limits: boom"],
    [104, "invalid_config", "invalid k6 configuration (options, env_vars or flags): boom"],
    [110, "marked_failed", "the script marked the test as failed: boom"],
    ...[1, 98, 103, 106, 109, 254].map((code): [number, string, string] => [
      code,
      "error",
      `k6 exited with code ${code}: boom`,
    ]),
  ];

  it.each(table)("%i fails as %s", (exitCode, outcome, reason) => {
    const result = verdictOf(exitWith({ exitCode, findings, lastError: "boom" }));
    expect(result).toMatchObject({ verdict: "fail", outcome, reason, exitCode });
    // Whatever k6 wrote is kept for the answer: failed thresholds first.
    expect(result.thresholds.map((t) => `${t.metric} ${t.ok}`)).toEqual([
      "http_req_duration false",
      "checks true",
    ]);
    expect(result.thresholds[0]?.observed).toBe(700);
  });

  it.each(table.filter(([code]) => code !== 99))(
    "%i without a logged error names no detail",
    (exitCode, _outcome, reason) => {
      expect(verdictOf(exitWith({ exitCode })).reason).toBe(reason.replace(": boom", ""));
    },
  );

  it("99 without a failed threshold in the summary points at the output", () => {
    const result = verdictOf(exitWith({ exitCode: 99, findings: undefined }));
    expect(result).toMatchObject({
      verdict: "fail",
      outcome: "thresholds_failed",
      reason: "thresholds failed (see output)",
      thresholds: [],
      metrics: emptyMetrics,
    });
  });

  it("judges the evidence only when k6 passed", () => {
    // No summary, no iterations: for a k6 failure, the failure is the reason.
    const result = verdictOf(exitWith({ exitCode: 107, findings: undefined, lastError: "boom" }));
    expect(result.outcome).toBe("script_error");
    expect(result.reason).not.toContain("evidence");
  });
});

describe("verdictOf: signals and time limits", () => {
  it("names the signal that killed k6", () => {
    expect(verdictOf(exitWith({ exitCode: null, signal: "SIGKILL" }))).toMatchObject({
      verdict: "fail",
      outcome: "error",
      reason: "k6 was killed by SIGKILL",
      exitCode: null,
    });
    expect(verdictOf(exitWith({ exitCode: null, signal: null })).reason).toBe(
      "k6 was killed by a signal",
    );
  });

  it("fails a run stopped at its max duration, whatever k6 exited with", () => {
    for (const [exitCode, signal] of [
      [null, "SIGTERM"],
      [null, "SIGKILL"],
      [0, null],
      [99, null],
      [107, null],
    ] as const) {
      const result = verdictOf(
        exitWith({ exitCode, signal, timedOut: true, maxDurationMs: 90_000 }),
      );
      expect(result).toMatchObject({
        verdict: "fail",
        outcome: "timeout",
        reason: "run exceeded its max duration of 1m30s and was stopped",
        exitCode,
      });
    }
  });
});

describe("verdictOf: k6 Cloud", () => {
  it("passes with the cloud run's address", () => {
    const cloudUrl = "https://acme.grafana.net/a/k6-app/runs/7";
    const result = verdictOf(exitWith({ cloudRequested: true, cloudUrl }));
    expect(result).toMatchObject({ verdict: "pass", cloudUrl, reason: "all 2 thresholds passed" });
  });

  it("says a failed run had no cloud run when one was asked for", () => {
    const result = verdictOf(exitWith({ exitCode: 99, findings, cloudRequested: true }));
    expect(result.reason).toBe(
      "1 of 2 thresholds failed (k6 Cloud upload was requested but no cloud run was created)",
    );
  });

  it("is a setup failure when k6 had no cloud login, keeping k6's exit code", () => {
    const result = verdictOf(
      exitWith({
        exitCode: 255,
        findings: undefined,
        cloudRequested: true,
        lastError: "To run cloud tests requires auth: please run `k6 cloud login`",
      }),
    );
    expect(result).toMatchObject({
      verdict: "fail",
      outcome: "setup_failed",
      exitCode: 255,
      reason:
        "k6 Cloud upload failed, so the test did not run: To run cloud tests requires auth: please run `k6 cloud login`",
    });
  });

  it("blames the cloud only when no cloud run was created", () => {
    const result = verdictOf(
      exitWith({
        exitCode: 107,
        cloudRequested: true,
        cloudUrl: "https://app.k6.io/runs/1",
        lastError: "could not create the cloud test run: printed by the script",
      }),
    );
    expect(result.outcome).toBe("script_error");
  });
});

describe("setupFailure", () => {
  it("is a failed verdict with no k6 result behind it", () => {
    expect(setupFailure("secret ns/s/key not found", 12)).toEqual({
      verdict: "fail",
      outcome: "setup_failed",
      reason: "secret ns/s/key not found",
      exitCode: null,
      thresholds: [],
      metrics: emptyMetrics,
      cloudUrl: null,
      durationMs: 12,
      warnings: [],
    });
    expect(setupFailure("k6 not found").durationMs).toBe(0);
  });
});
