import {
  emptyMetrics,
  splitStatKey,
  STORED_STATS,
  type KeyMetrics,
  type ThresholdResult,
} from "@k6-gate/shared";
import type { HttpAnswers } from "./metric-stream";

/**
 * What k6 measured, in the shape of k6's summary export (`metrics` by name, each with its
 * stats and `thresholds` mapping an expression to true when crossed), built by k6-gate
 * from k6's metric stream (metric-stream.ts), never read from a file the script can write.
 */
export interface Summary {
  metrics: Record<string, Record<string, unknown> & { thresholds?: Record<string, boolean> }>;
  /** HTTP answers by kind; absent when nothing counted them. */
  http?: HttpAnswers;
}

export interface SummaryFindings {
  thresholds: ThresholdResult[];
  /** Thresholds whose metric or sub-metric got no sample: k6 skips them, so they "pass". */
  unsampledThresholds: ThresholdResult[];
  metrics: KeyMetrics;
  /** Values by `metric:stat`: STORED_STATS and the keys asked for, when sampled. */
  stats: Record<string, number>;
  /** HTTP answers by kind, for the evidence of a live target; absent: none counted. */
  http: HttpAnswers | undefined;
  /**
   * Why the thresholds' judgement does not stand: where those k6 judged differ from those
   * the script declares, or (a test split over runners) one k6-gate could not evaluate.
   */
  thresholdMismatches?: string[];
  /** Said with the verdict when the figures come from a source the script could write. */
  sourceWarning?: string;
}

function numberField(metric: Record<string, unknown> | undefined, field: string): number | null {
  const value = metric?.[field];
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * The value a threshold expression was judged on: `p(95)<500` reads `p(95)`,
 * `rate<0.01` reads a Rate metric's `value`, `count>10` reads `count`.
 */
export function observedValue(
  metric: Record<string, unknown> | undefined,
  expression: string,
): number | null {
  const aggregate =
    expression
      .trim()
      .split(/\s*[<>=!]/)[0]
      ?.trim() ?? "";
  const direct = numberField(metric, aggregate);
  if (direct !== null) return direct;
  if (aggregate === "rate" || aggregate === "value") return numberField(metric, "value");
  return null;
}

/**
 * Whether a metric got any sample, from the fields each k6 metric type has
 * (measured-summary.ts gives them as k6's summary export does):
 * - Rate: `passes` + `fails`; an empty one reads passes 0, fails 0, value 0, and k6 skips
 *   its thresholds (`rate>0.9` "passes");
 * - Trend: `count`; an empty one reads 0 everywhere, and k6 skips its thresholds too;
 * - Counter and Gauge: an empty one reads like one at 0 (count 0; value, min, max 0) and
 *   k6 judges its thresholds on that 0, which is the point of `errors: ['count<1']` or
 *   `http_reqs{status:500}: ['count<1']`: nothing counted is the evidence.
 */
export function hasSamples(metric: Record<string, unknown>): boolean {
  const passes = numberField(metric, "passes");
  const fails = numberField(metric, "fails");
  if (passes !== null && fails !== null) return passes + fails > 0;
  if ("avg" in metric) return (numberField(metric, "count") ?? 0) > 0;
  return true;
}

/**
 * A threshold maps to `true` when it was crossed (failed), as in k6's summary export. A
 * threshold without samples has no observed value, whatever zeros its metric reads.
 */
export function readSummary(summary: Summary, statKeys: string[] = []): SummaryFindings {
  const thresholds: ThresholdResult[] = [];
  const unsampledThresholds: ThresholdResult[] = [];
  for (const [metricName, metric] of Object.entries(summary.metrics)) {
    const sampled = hasSamples(metric);
    for (const [expression, crossed] of Object.entries(metric.thresholds ?? {})) {
      const threshold = {
        metric: metricName,
        expression,
        ok: !crossed,
        observed: sampled ? observedValue(metric, expression) : null,
      };
      thresholds.push(threshold);
      if (!sampled) unsampledThresholds.push(threshold);
    }
  }
  const byOutcomeThenMetric = (a: ThresholdResult, b: ThresholdResult) =>
    Number(a.ok) - Number(b.ok) || a.metric.localeCompare(b.metric);
  thresholds.sort(byOutcomeThenMetric);
  unsampledThresholds.sort(byOutcomeThenMetric);
  const m = summary.metrics;
  return {
    thresholds,
    unsampledThresholds,
    http: summary.http,
    stats: statsOf(summary, [...STORED_STATS, ...statKeys]),
    metrics: {
      ...emptyMetrics,
      httpReqDurationAvg: numberField(m.http_req_duration, "avg"),
      httpReqDurationP95: numberField(m.http_req_duration, "p(95)"),
      httpReqFailedRate: numberField(m.http_req_failed, "value"),
      iterations: numberField(m.iterations, "count"),
      checksRate: numberField(m.checks, "value"),
    },
  };
}

/** The sampled values of `keys` (`http_req_duration:p(95)`, `http_req_failed:rate`). */
function statsOf(summary: Summary, keys: string[]): Record<string, number> {
  const stats: Record<string, number> = {};
  for (const key of new Set(keys)) {
    const { metric, stat } = splitStatKey(key);
    const values = summary.metrics[metric];
    const value = values && hasSamples(values) ? observedValue(values, stat) : null;
    if (value !== null) stats[key] = value;
  }
  return stats;
}
