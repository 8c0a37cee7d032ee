/**
 * `max_regression`: how much a run may move against its canary's baseline, per
 * `metric:stat`. `{"http_req_duration:p(95)": "+20%", "http_req_failed:rate": "+0.01"}`:
 * p95 may grow by a fifth, the error rate by one point. A `-` limit bounds a fall
 * instead (`"checks:rate": "-0.02"`), for metrics where more is better.
 */

/** `metric` or `metric{tag:value}`, then one stat of k6's summary export. */
const KEY =
  /^[A-Za-z_][A-Za-z0-9_.]*(?:\{[^{}]{1,200}\})?:(?:avg|min|med|max|p\(\d{1,2}(?:\.\d{1,3})?\)|rate|count|value)$/;
const LIMIT = /^([+-])(\d{1,9}(?:\.\d{1,6})?)(%?)$/;
export const MAX_REGRESSION_ENTRIES = 20;
export const DEFAULT_BASELINE_RUNS = 5;

export interface RegressionLimit {
  /** +1: the value may grow by `amount`; -1: it may fall by `amount`. */
  direction: 1 | -1;
  amount: number;
  relative: boolean;
}

export function parseLimit(text: string): RegressionLimit | undefined {
  const match = LIMIT.exec(text.trim());
  if (!match) return undefined;
  return {
    direction: match[1] === "-" ? -1 : 1,
    amount: Number(match[2]),
    relative: match[3] === "%",
  };
}

/** The metric and stat of a key: `http_req_duration{status:200}:p(95)`. */
export function splitStatKey(key: string): { metric: string; stat: string } {
  const at = key.lastIndexOf(":");
  return { metric: key.slice(0, at), stat: key.slice(at + 1) };
}

/** Problems of one entry, in words that name it; undefined when it is fine. */
export function regressionEntryProblem(key: string, limit: unknown): string | undefined {
  const shown = JSON.stringify(key.slice(0, 80));
  if (!KEY.test(key))
    return `${shown} must be "metric:stat" with stat one of avg, min, med, max, p(N), rate, count, value (e.g. "http_req_duration:p(95)")`;
  if (typeof limit !== "string" || !parseLimit(limit))
    return `${shown} must map to a change like "+20%" (relative) or "+0.01" (absolute), got ${JSON.stringify(limit)?.slice(0, 40)}`;
  return undefined;
}

/**
 * Whether `observed` moved beyond `limit` from `baseline`. A relative limit on a baseline
 * of 0 allows no growth at all (any share of nothing is nothing).
 */
export function beyondLimit(observed: number, baseline: number, limit: RegressionLimit): boolean {
  const change = (observed - baseline) * limit.direction;
  const allowed = limit.relative ? (Math.abs(baseline) * limit.amount) / 100 : limit.amount;
  // Floating-point noise must not turn "exactly at the limit" into a regression.
  return change > allowed + 1e-9 * Math.max(1, Math.abs(baseline));
}
