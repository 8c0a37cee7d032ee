import { z } from "zod";
import type { Summary } from "./summary";

/**
 * k6's `--summary-export`, read only for `k6 cloud run --local-execution`, which forces
 * the cloud as its only output, so k6's metric stream is not to be had (decision 37).
 * k6 writes the export from the script's own JavaScript runtime, after `handleSummary()`,
 * so a script can forge it; what it is read through (a FIFO, k6-fifo.ts) at least keeps
 * every write: a second document (an alias of the path in `handleSummary()`'s map) voids it.
 */
const metricSchema = z
  .object({ thresholds: z.record(z.string(), z.boolean()).optional() })
  .catchall(z.unknown());
const exportSchema = z.object({ metrics: z.record(z.string(), metricSchema) });

const count = (metric: Record<string, unknown> | undefined, field: string) => {
  const value = metric?.[field];
  return typeof value === "number" ? value : 0;
};

/** The summary to judge, or why the export cannot be one. */
export function summaryFromExport(text: string): Summary | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return text.trim() === ""
      ? "k6 wrote no summary export"
      : "the summary export is not one JSON document (the script wrote to it too)";
  }
  const parsed = exportSchema.safeParse(json);
  if (!parsed.success) return "the summary export is not k6's";
  const { metrics } = parsed.data;
  // No status tags here: the live target is judged on http_req_failed alone.
  const requests = count(metrics.http_reqs, "count");
  return {
    metrics,
    http: requests ? { requests, withStatus: 0, noResponse: 0, serverErrors: 0 } : undefined,
  };
}
