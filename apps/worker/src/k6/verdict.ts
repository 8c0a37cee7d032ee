import {
  emptyMetrics,
  failedResult,
  formatDuration,
  type Outcome,
  type RunResult,
} from "@k6-gate/shared";
import { missingEvidence, resultWarnings } from "./evidence";
import type { K6Exit } from "./k6-exit";

/**
 * k6's documented exit codes (errext/exitcodes): the outcome each is, and the reason it
 * gives (k6's last error follows it). Those without words have a reason of their own
 * (`reasonOf`); any other code is `error`.
 */
const K6_EXITS: Record<number, { outcome: Outcome; says?: string }> = {
  0: { outcome: "passed" },
  97: { outcome: "cloud_run_failed", says: "the k6 Cloud test run failed" },
  99: { outcome: "thresholds_failed" },
  100: { outcome: "setup_timeout", says: "setup() ran longer than its setupTimeout" },
  101: { outcome: "teardown_timeout", says: "teardown() ran longer than its teardownTimeout" },
  102: { outcome: "timeout", says: "k6 stopped the test on one of its own time limits" },
  104: { outcome: "invalid_config", says: "invalid k6 configuration (options, env_vars or flags)" },
  105: { outcome: "aborted", says: "k6 run was aborted" },
  107: { outcome: "script_error", says: "script exception" },
  108: { outcome: "test_aborted", says: "test.abort() called by the script" },
  110: { outcome: "marked_failed", says: "the script marked the test as failed" },
  255: { outcome: "invalid_script", says: "invalid script or options" },
};

/** k6's own words when it could not create the cloud run (or lacked its login). */
const CLOUD_START_ERROR = /could not create the cloud test run|cloud tests requires auth/i;

/** k6's error when it stopped before the test because the cloud run could not be created. */
function cloudStartFailure(exit: K6Exit): string | null {
  if (!exit.cloudRequested || exit.cloudUrl || exit.exitCode === 0 || !exit.lastError) return null;
  return CLOUD_START_ERROR.test(exit.lastError) ? exit.lastError : null;
}

const thresholdsText = (count: number) =>
  count === 1 ? "its threshold passed" : `all ${count} thresholds passed`;

/** Why the run ended as `outcome`, in words. */
function reasonOf(exit: K6Exit, outcome: Outcome, missing: string[]): string {
  const thresholds = exit.findings?.thresholds ?? [];
  const failed = thresholds.filter((threshold) => !threshold.ok).length;
  const detail = exit.lastError ? `: ${exit.lastError}` : "";
  if (outcome === "passed")
    return thresholds.length
      ? thresholdsText(thresholds.length)
      : "k6 finished (no thresholds defined)";
  if (outcome === "no_evidence") return missing.join("; ");
  if (outcome === "thresholds_failed")
    return failed
      ? `${failed} of ${thresholds.length} thresholds failed`
      : "thresholds failed (see output)";
  if (outcome === "timeout" && exit.timedOut) {
    const basis =
      exit.scriptDurationMs === null
        ? ""
        : ` (the script's ${formatDuration(exit.scriptDurationMs)} of scenarios plus margin)`;
    return `run exceeded its max duration of ${formatDuration(exit.maxDurationMs)}${basis} and was stopped`;
  }
  const says = exit.exitCode === null ? undefined : K6_EXITS[exit.exitCode]?.says;
  if (says) return `${says}${detail}`;
  return exit.exitCode === null
    ? `k6 was killed by ${exit.signal ?? "a signal"}`
    : `k6 exited with code ${exit.exitCode}${detail}`;
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
      : (K6_EXITS[exit.exitCode]?.outcome ?? "error");
  const thresholds = exit.findings?.thresholds ?? [];
  const missing = k6Outcome === "passed" ? missingEvidence(exit) : [];
  // A summary that says a threshold was crossed outranks an exit code that says it was not.
  const outcome: Outcome =
    k6Outcome === "passed" && thresholds.some((threshold) => !threshold.ok)
      ? "thresholds_failed"
      : missing.length > 0
        ? "no_evidence"
        : k6Outcome;
  let reason = reasonOf(exit, outcome, missing);
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
    warnings: resultWarnings(exit.findings),
  };
}

/** A run that could not start k6 at all (bad secret reference, missing binary, ...). */
export function setupFailure(reason: string, durationMs = 0): RunResult {
  return failedResult("setup_failed", reason, durationMs);
}
