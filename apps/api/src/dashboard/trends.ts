import type { KeyMetrics } from "@k6-gate/shared";

/** What a trend reads of a run: a full record or a list's summary. */
export interface TrendRun {
  id: string;
  checksum: string;
  verdict: "pass" | "fail" | null;
  result: { metrics: KeyMetrics } | null;
}

/** One run on a trend chart. */
export interface TrendPoint {
  runId: string;
  checksum: string;
  verdict: "pass" | "fail" | null;
  value: number | null;
}

export type MetricOf = (metrics: KeyMetrics) => number | null;

export const p95Of: MetricOf = (m) => m.httpReqDurationP95;
export const errorRateOf: MetricOf = (m) => m.httpReqFailedRate;
export const checksRateOf: MetricOf = (m) => m.checksRate;

/** Judged runs, oldest first (store.list gives newest first). */
export function judgedOldestFirst<T extends TrendRun>(runs: T[]): T[] {
  return runs.filter((run) => run.result !== null).reverse();
}

/**
 * One run per revision: the last judged run of each checksum, revisions in the order
 * they were first tested, oldest first. "How did this version do against the last ones".
 */
export function latestPerRevision<T extends TrendRun>(runs: T[]): T[] {
  // A Map keeps first-insertion order while set() replaces the value with later runs.
  const byChecksum = new Map<string, T>();
  for (const run of judgedOldestFirst(runs)) byChecksum.set(run.checksum, run);
  return [...byChecksum.values()];
}

export function pointsOf(runs: TrendRun[], metric: MetricOf): TrendPoint[] {
  return runs.map((run) => ({
    runId: run.id,
    checksum: run.checksum,
    verdict: run.verdict,
    value: run.result ? metric(run.result.metrics) : null,
  }));
}
