import {
  emptyMetrics,
  failedResult,
  formatDuration,
  type Outcome,
  type RunResult,
} from "@k6-gate/shared";
import type { SummaryFindings } from "./summary";

/** k6's documented exit codes (errext/exitcodes). */
const EXIT_OUTCOMES: Record<number, Outcome> = {
  0: "passed",
  97: "cloud_run_failed",
  99: "thresholds_failed",
  100: "setup_timeout",
  101: "teardown_timeout",
  102: "timeout",
  104: "invalid_config",
  105: "aborted",
  107: "script_error",
  108: "test_aborted",
  110: "marked_failed",
  255: "invalid_script",
};

export interface K6Exit {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  maxDurationMs: number;
  /** The script's scenarios' duration when `maxDurationMs` was derived from it. */
  scriptDurationMs: number | null;
  durationMs: number;
  findings: SummaryFindings | undefined;
  /** Iterations k6 logged as ended by an uncaught exception, and the first one's message. */
  interruptedIterations: number;
  firstInterruption: string | null;
  /** How many of those the metadata allows (`max_interrupted_iterations`). */
  maxInterruptedIterations: number;
  /** The last error k6 logged, for the reason text only: the verdict never depends on it. */
  lastError: string | null;
  cloudUrl: string | null;
  cloudRequested: boolean;
  /** REQUIRE_THRESHOLDS: a script that defines none fails rather than passing on nothing. */
  requireThresholds?: boolean;
  /** `allow_failed_requests`: a test that expects every HTTP request to fail may pass. */
  allowFailedRequests?: boolean;
}

/** k6's own words when it could not create the cloud run (or lacked its login). */
const CLOUD_START_ERROR = /could not create the cloud test run|cloud tests requires auth/i;

/** k6's error when it stopped before the test because the cloud run could not be created. */
function cloudStartFailure(exit: K6Exit): string | null {
  if (!exit.cloudRequested || exit.cloudUrl || exit.exitCode === 0 || !exit.lastError) return null;
  return CLOUD_START_ERROR.test(exit.lastError) ? exit.lastError : null;
}

const iterationsText = (count: number) => `${count} ${count === 1 ? "iteration" : "iterations"}`;

/**
 * The evidence a run that k6 passed lacks, one line each; empty when the pass stands
 * (README, "No pass without evidence"). k6 exits 0 when every iteration threw before its
 * checks, when no iteration finished before the test ended, when a threshold's metric got
 * no sample (k6 skips such thresholds), and when the target never answered. k6 counts an
 * iteration that threw in `iterations`, so the completed ones are the rest.
 */
export function missingEvidence(exit: K6Exit): string[] {
  if (!exit.findings) {
    return [
      "k6's metric stream is missing or holds what k6 does not write, so nothing shows what it measured",
    ];
  }
  const interrupted = exit.interruptedIterations;
  const cause = exit.firstInterruption ? `: ${exit.firstInterruption}` : "";
  const completed = Math.max(0, (exit.findings.metrics.iterations ?? 0) - interrupted);
  const missing: string[] = [];
  if (completed === 0) {
    missing.push(
      interrupted > 0
        ? `no iteration completed (${interrupted} interrupted by exceptions${cause})`
        : "no iteration completed",
    );
  } else if (interrupted > exit.maxInterruptedIterations) {
    missing.push(
      `${iterationsText(interrupted)} interrupted by exceptions (max_interrupted_iterations ${exit.maxInterruptedIterations})${cause}`,
    );
  }
  if (exit.requireThresholds && exit.findings.thresholds.length === 0) {
    missing.push("the script defines no thresholds (this server sets REQUIRE_THRESHOLDS)");
  }
  for (const threshold of exit.findings.unsampledThresholds) {
    missing.push(`threshold ${threshold.metric} '${threshold.expression}' has no samples`);
  }
  missing.push(...(exit.findings.thresholdMismatches ?? []));
  const deadTarget = exit.allowFailedRequests ? undefined : deadTargetOf(exit.findings);
  if (deadTarget) missing.push(`${deadTarget} (set allow_failed_requests if the test expects it)`);
  return missing;
}

/**
 * Why the HTTP answers show no live target, or undefined. A refused connection is a
 * sample like any other (duration 0, status 0), so `p(95)<300` holds on a dead canary and
 * a counter of 5xx answers stays at 0: the answers themselves must show a live target.
 */
export function deadTargetOf(findings: SummaryFindings): string | undefined {
  const http = findings.http;
  if (!http || http.requests === 0) return undefined;
  const of = `${http.requests} ${http.requests === 1 ? "request" : "requests"}`;
  if (http.withStatus === http.requests) {
    if (http.noResponse === http.requests)
      return `no HTTP request got a response (${of}: connection refused, reset or timed out)`;
    if (http.serverErrors === http.requests) return `every HTTP response was a 5xx (${of})`;
    if (http.noResponse + http.serverErrors === http.requests)
      return `every HTTP request got no response or a 5xx (${of}: ${http.noResponse} without response, ${http.serverErrors} 5xx)`;
  }
  if (findings.metrics.httpReqFailedRate === 1)
    return `every HTTP request failed (http_req_failed 100% of ${of})`;
  return undefined;
}

export function verdictOf(exit: K6Exit): RunResult {
  const cloudProblem = cloudStartFailure(exit);
  if (cloudProblem) {
    return {
      ...setupFailure(
        `k6 Cloud upload failed, so the test did not run: ${cloudProblem}`,
        exit.durationMs,
      ),
      exitCode: exit.exitCode,
    };
  }
  const k6Outcome: Outcome = exit.timedOut
    ? "timeout"
    : exit.exitCode === null
      ? "error"
      : (EXIT_OUTCOMES[exit.exitCode] ?? "error");
  const thresholds = exit.findings?.thresholds ?? [];
  const failed = thresholds.filter((threshold) => !threshold.ok);
  const missing = k6Outcome === "passed" ? missingEvidence(exit) : [];
  // A summary that says a threshold was crossed outranks an exit code that says it was not.
  const outcome: Outcome =
    k6Outcome === "passed" && failed.length > 0
      ? "thresholds_failed"
      : missing.length > 0
        ? "no_evidence"
        : k6Outcome;
  const detail = exit.lastError ? `: ${exit.lastError}` : "";
  let reason: string;
  switch (outcome) {
    case "passed":
      reason =
        thresholds.length === 1
          ? "its threshold passed"
          : thresholds.length
            ? `all ${thresholds.length} thresholds passed`
            : "k6 finished (no thresholds defined)";
      break;
    case "no_evidence":
      reason = missing.join("; ");
      break;
    case "thresholds_failed":
      reason = failed.length
        ? `${failed.length} of ${thresholds.length} thresholds failed`
        : "thresholds failed (see output)";
      break;
    case "timeout": {
      if (!exit.timedOut) {
        reason = `k6 stopped the test on one of its own time limits${detail}`;
        break;
      }
      const basis =
        exit.scriptDurationMs === null
          ? ""
          : ` (the script's ${formatDuration(exit.scriptDurationMs)} of scenarios plus margin)`;
      reason = `run exceeded its max duration of ${formatDuration(exit.maxDurationMs)}${basis} and was stopped`;
      break;
    }
    case "script_error":
      reason = `script exception${detail}`;
      break;
    case "test_aborted":
      reason = `test.abort() called by the script${detail}`;
      break;
    case "aborted":
      reason = `k6 run was aborted${detail}`;
      break;
    case "invalid_script":
      reason = `invalid script or options${detail}`;
      break;
    case "cloud_run_failed":
      reason = `the k6 Cloud test run failed${detail}`;
      break;
    case "setup_timeout":
      reason = `setup() ran longer than its setupTimeout${detail}`;
      break;
    case "teardown_timeout":
      reason = `teardown() ran longer than its teardownTimeout${detail}`;
      break;
    case "invalid_config":
      reason = `invalid k6 configuration (options, env_vars or flags)${detail}`;
      break;
    case "marked_failed":
      reason = `the script marked the test as failed${detail}`;
      break;
    default:
      reason =
        exit.exitCode === null
          ? `k6 was killed by ${exit.signal ?? "a signal"}`
          : `k6 exited with code ${exit.exitCode}${detail}`;
  }
  if (exit.cloudRequested && !exit.cloudUrl && outcome !== "passed") {
    reason += " (k6 Cloud upload was requested but no cloud run was created)";
  }
  const metrics = exit.findings?.metrics ?? emptyMetrics;
  return {
    verdict: outcome === "passed" ? "pass" : "fail",
    outcome,
    reason,
    exitCode: exit.exitCode,
    thresholds,
    metrics,
    cloudUrl: exit.cloudUrl,
    durationMs: exit.durationMs,
    warnings: resultWarnings(exit.findings),
  };
}

/** What a verdict should say about its own evidence, whatever it is. */
function resultWarnings(findings: SummaryFindings | undefined): string[] {
  const warnings: string[] = [];
  if (findings && findings.thresholds.length === 0) {
    warnings.push("no thresholds: k6 judged nothing");
  }
  // Said even when `allow_failed_requests` lets the run pass.
  const deadTarget = findings && deadTargetOf(findings);
  if (deadTarget) warnings.push(deadTarget);
  if (findings?.sourceWarning) warnings.push(findings.sourceWarning);
  return warnings;
}

/** A run that could not start k6 at all (bad secret reference, missing binary, ...). */
export function setupFailure(reason: string, durationMs = 0): RunResult {
  return failedResult("setup_failed", reason, durationMs);
}
