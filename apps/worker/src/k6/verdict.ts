import { emptyMetrics, formatDuration, type Outcome, type RunResult } from "@k6-gate/shared";
import type { SummaryFindings } from "./summary";

/** k6's documented exit codes (errext/exitcodes). */
const EXIT_OUTCOMES: Record<number, Outcome> = {
  0: "passed",
  99: "thresholds_failed",
  105: "aborted",
  107: "script_error",
  108: "test_aborted",
  255: "invalid_script",
};

export interface K6Exit {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  maxDurationMs: number;
  durationMs: number;
  findings: SummaryFindings | undefined;
  /** The last error k6 logged, for the reason text only: the verdict never depends on it. */
  lastError: string | null;
  cloudUrl: string | null;
  cloudRequested: boolean;
}

/** k6's own words when it could not create the cloud run (or lacked its login). */
const CLOUD_START_ERROR = /could not create the cloud test run|cloud tests requires auth/i;

/** k6's error when it stopped before the test because the cloud run could not be created. */
function cloudStartFailure(exit: K6Exit): string | null {
  if (!exit.cloudRequested || exit.cloudUrl || exit.exitCode === 0 || !exit.lastError) return null;
  return CLOUD_START_ERROR.test(exit.lastError) ? exit.lastError : null;
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
  const outcome: Outcome = exit.timedOut
    ? "timeout"
    : exit.exitCode === null
      ? "error"
      : (EXIT_OUTCOMES[exit.exitCode] ?? "error");
  const thresholds = exit.findings?.thresholds ?? [];
  const failed = thresholds.filter((threshold) => !threshold.ok);
  const detail = exit.lastError ? `: ${exit.lastError}` : "";
  let reason: string;
  switch (outcome) {
    case "passed":
      reason = thresholds.length
        ? `all ${thresholds.length} thresholds passed`
        : "k6 finished (no thresholds defined)";
      break;
    case "thresholds_failed":
      reason = failed.length
        ? `${failed.length} of ${thresholds.length} thresholds failed`
        : "thresholds failed (see output)";
      break;
    case "timeout":
      reason = `run exceeded its max duration of ${formatDuration(exit.maxDurationMs)} and was stopped`;
      break;
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
    default:
      reason =
        exit.exitCode === null
          ? `k6 was killed by ${exit.signal ?? "a signal"}`
          : `k6 exited with code ${exit.exitCode}${detail}`;
  }
  if (exit.cloudRequested && !exit.cloudUrl && outcome !== "passed") {
    reason += " (k6 Cloud upload was requested but no cloud run was created)";
  }
  return {
    verdict: outcome === "passed" ? "pass" : "fail",
    outcome,
    reason,
    exitCode: exit.exitCode,
    thresholds,
    metrics: exit.findings?.metrics ?? emptyMetrics,
    cloudUrl: exit.cloudUrl,
    durationMs: exit.durationMs,
  };
}

/** A run that could not start k6 at all (bad secret reference, missing binary, ...). */
export function setupFailure(reason: string, durationMs = 0): RunResult {
  return {
    verdict: "fail",
    outcome: "setup_failed",
    reason,
    exitCode: null,
    thresholds: [],
    metrics: emptyMetrics,
    cloudUrl: null,
    durationMs,
  };
}
