import { summaryOf, type DeclaredThreshold } from "./measured-summary";
import type { MetricStream } from "./metric-stream";
import type { RunK6Outcome } from "./run-k6";
import { summaryFromExport } from "./summary-export";
import { readSummary, type SummaryFindings } from "./summary";

/** What a k6 Cloud run's verdict says of its figures' source (summary-export.ts). */
export const SUMMARY_EXPORT_WARNING =
  "figures from k6's summary export: k6 cloud run streams nothing else, and a script's handleSummary() could alter it";

/**
 * What a run's verdict is judged on: k6's metric stream with the script's declared
 * thresholds evaluated on it (or a k6 Cloud run's summary export). Undefined when there is
 * nothing k6 measured to judge: the stream held a line k6 does not write, or the export is
 * not one document of k6's.
 */
export function findingsOf(
  outcome: Pick<RunK6Outcome, "measured" | "declaredThresholds" | "exitCode" | "runners">,
  statKeys: string[],
): SummaryFindings | undefined {
  const { measured } = outcome;
  if (measured.from === "summary-export") {
    const summary = summaryFromExport(measured.text);
    if (typeof summary === "string") return undefined;
    return { ...readSummary(summary, statKeys), sourceWarning: SUMMARY_EXPORT_WARNING };
  }
  const { stream } = measured;
  if (stream.problem) return undefined;
  const runners = outcome.runners ?? 1;
  const summary = summaryOf(
    stream,
    outcome.declaredThresholds ?? [],
    statKeys,
    // k6's own pass confirms what the stream approximates, when one k6 judged the whole test.
    outcome.exitCode === 0 && runners === 1,
  );
  // Split over runners, no k6 judged the whole test: what k6-gate cannot evaluate is unjudged.
  const unjudged =
    runners > 1
      ? summary.unjudged.map(
          ({ metric, expression }) =>
            `threshold ${metric} '${expression}' cannot be judged on the ${runners} runners' merged metrics (k6-gate reads an aggregate, an operator and a decimal number)`,
        )
      : [];
  return {
    ...readSummary(summary, statKeys),
    thresholdMismatches: [
      ...(outcome.declaredThresholds
        ? mismatches(stream, outcome.declaredThresholds)
        : ["k6 inspect could not read the script's thresholds"]),
      ...unjudged,
    ],
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
