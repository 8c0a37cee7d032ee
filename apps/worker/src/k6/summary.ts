import { z } from "zod";
import { emptyMetrics, type KeyMetrics, type ThresholdResult } from "@k6-gate/shared";

/** The parts of k6's `--summary-export` file k6-gate reads; anything else is ignored. */
const metricSchema = z
  .object({ thresholds: z.record(z.string(), z.boolean()).optional() })
  .catchall(z.unknown());
export const summarySchema = z.object({ metrics: z.record(z.string(), metricSchema) });
export type Summary = z.infer<typeof summarySchema>;

export interface SummaryFindings {
  thresholds: ThresholdResult[];
  metrics: KeyMetrics;
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
 * In the legacy summary export a threshold maps to `true` when it was crossed (failed).
 */
export function readSummary(summary: Summary): SummaryFindings {
  const thresholds: ThresholdResult[] = [];
  for (const [metricName, metric] of Object.entries(summary.metrics)) {
    for (const [expression, crossed] of Object.entries(metric.thresholds ?? {})) {
      thresholds.push({
        metric: metricName,
        expression,
        ok: !crossed,
        observed: observedValue(metric, expression),
      });
    }
  }
  thresholds.sort((a, b) => Number(a.ok) - Number(b.ok) || a.metric.localeCompare(b.metric));
  const m = summary.metrics;
  return {
    thresholds,
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

/** Parses the file's text; undefined when it is missing or not a k6 summary. */
export function parseSummary(text: string | undefined): SummaryFindings | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed = summarySchema.safeParse(JSON.parse(text));
    return parsed.success ? readSummary(parsed.data) : undefined;
  } catch {
    return undefined;
  }
}
