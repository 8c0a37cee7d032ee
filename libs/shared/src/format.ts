/**
 * The one way k6-gate prints measured values, wherever a person reads them: the
 * dashboard, the verdict text Flagger shows, Slack. (How long something took, or a
 * setting, is a duration: formatDuration's "1.3s", "2m", as durations are written.) Times with a space before the unit and at most two
 * decimals, rates with exactly two.
 */

const trim = (value: number, decimals: number) => String(Number(value.toFixed(decimals)));

/** "51.53 ms", "1.2 s"; "–" when there is no value. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  if (Math.abs(Number(ms.toFixed(2))) < 1000) return `${trim(ms, 2)} ms`;
  return `${trim(ms / 1000, 2)} s`;
}

/** A 0–1 rate as a percentage with two decimals: "20.83%", "100.00%"; "–" when there is no value. */
export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return "–";
  return `${(rate * 100).toFixed(2)}%`;
}

/** Counts and other plain values: "24", "0.1234"; "–" when there is no value. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return trim(value, 4);
}

/** k6 metrics measured in milliseconds (http_req_duration, http_req_waiting, ...). */
export const TIME_METRIC = /duration|waiting|connecting|blocked|sending|receiving|tls/;
