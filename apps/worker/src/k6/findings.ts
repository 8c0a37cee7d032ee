import { summaryOf, type DeclaredThreshold } from "./measured-summary";
import type { MetricStream } from "./metric-stream";
import type { RunK6Outcome } from "./run-k6";
import { readSummary, type SummaryFindings } from "./summary";

/**
 * What a run's verdict is judged on: k6's metric stream with the script's declared
 * thresholds evaluated on it. Undefined when there is nothing k6 measured to judge: k6
 * never began its test, or the stream held a line k6 does not write.
 */
export function findingsOf(
  outcome: Pick<RunK6Outcome, "measured" | "declaredThresholds" | "exitCode">,
  statKeys: string[],
): SummaryFindings | undefined {
  const { measured } = outcome;
  if (!measured || measured.problem) return undefined;
  const summary = summaryOf(
    measured,
    outcome.declaredThresholds ?? [],
    statKeys,
    outcome.exitCode === 0,
  );
  return {
    ...readSummary(summary, statKeys),
    thresholdMismatches: outcome.declaredThresholds
      ? mismatches(measured, outcome.declaredThresholds)
      : ["k6 inspect could not read the script's thresholds"],
  };
}

/**
 * Where the thresholds k6 ran with (its `Metric` lines) differ from those the script
 * declares (`k6 inspect`): a setting that replaced them reached k6 some other way.
 */
function mismatches(measured: MetricStream, declared: DeclaredThreshold[]): string[] {
  const problems: string[] = [];
  for (const [metric, judged] of measured.judgedThresholds) {
    const own = declared.filter((t) => t.metric === metric).map((t) => t.expression);
    const extra = judged.filter((expression) => !own.includes(expression));
    const missing = own.filter((expression) => !judged.includes(expression));
    if (extra.length || missing.length) {
      problems.push(
        `k6 judged ${metric} on [${judged.join(", ")}], the script declares [${own.join(", ")}]`,
      );
    }
  }
  return problems;
}
