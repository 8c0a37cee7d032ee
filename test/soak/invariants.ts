import type { Check, Violation } from "./model";
import { truthOf } from "./scripts";

/**
 * Outcomes that say k6-gate could not judge the script (a lost run, a job that failed for
 * good, k6 stopped from outside), not what the script's thresholds said. A passing script
 * may end with one of these only when a fault hit its check.
 */
export const INFRASTRUCTURE_OUTCOMES = new Set([
  "error",
  "setup_failed",
  "aborted",
  "timeout",
  "superseded",
  "cancelled",
]);

export const isInfrastructureFail = (check: Check) =>
  check.verdict === "fail" && INFRASTRUCTURE_OUTCOMES.has(check.outcome ?? "");

/** The invariants read from the checks' verdicts and the k6 runs the target counted. */
export function checkVerdicts(checks: Check[], k6Runs: Record<string, number>): Violation[] {
  const violations: Violation[] = [];
  const add = (invariant: string, check: Check, detail: string) =>
    violations.push({ invariant, detail: `${check.id} (${check.kind}): ${detail}` });
  for (const check of checks) {
    const runs = k6Runs[check.id] ?? 0;
    if (check.verdict === null) {
      add(
        "every check ended",
        check,
        `no verdict after ${check.calls} calls; last: ${check.verdictless.at(-1) ?? "none"}`,
      );
      continue;
    }
    const truth = truthOf(check.kind);
    if (check.verdict === "pass" && truth === "fail")
      add("verdict matches the script", check, "a failing script passed");
    if (check.verdict === "fail" && truth === "pass") {
      if (!isInfrastructureFail(check))
        add("verdict matches the script", check, `a passing script failed:\n${check.body}`);
      else if (check.hits.length === 0)
        add(
          "verdict matches the script",
          check,
          `an infrastructure fail (${check.outcome}) with no fault behind it:\n${check.body}`,
        );
    }
    // No pass without evidence: k6 ran this check's script at least once.
    if (check.verdict === "pass" && runs === 0)
      add("k6 runs per check", check, "passed, yet k6 never ran its script");
    if (runs > 1 + check.hits.length)
      add(
        "k6 runs per check",
        check,
        `${runs} k6 runs, allowed 1 + ${check.hits.length} faults that hit it`,
      );
  }
  return violations;
}
