import { formatMs, formatNumber, formatRate, TIME_METRIC } from "./format";
import { parseLimit, splitStatKey } from "./regression-limits";
import type { Comparison, ComparisonEntry } from "./run";

/** What every run is compared on, whatever its metadata: the two figures a release moves. */
export const COMPARED_BY_DEFAULT = ["http_req_duration:p(95)", "http_req_failed:rate"] as const;

/** Summary values kept on every run (`result.stats`), so later runs can use it as baseline. */
export const STORED_STATS = [
  ...COMPARED_BY_DEFAULT,
  "http_req_duration:avg",
  "http_req_duration:med",
  "iteration_duration:p(95)",
  "checks:rate",
] as const;

/** How a key's values read: "52.9 ms" for times, "0.50%" for rates, plain otherwise. */
export function formatStat(key: string, value: number | null): string {
  const { metric, stat } = splitStatKey(key);
  if (value === null) return "–";
  if (stat === "rate" && !TIME_METRIC.test(metric) && value <= 1) return formatRate(value);
  if (TIME_METRIC.test(metric) && stat !== "count" && stat !== "rate") return formatMs(value);
  return formatNumber(value);
}

/** "p95" for the headline latency, the key itself otherwise. */
export function statLabel(key: string): string {
  return key === "http_req_duration:p(95)" ? "p95" : key;
}

/**
 * The change of an entry against its baseline, as its limit is written: relative ("+18%")
 * unless the limit is absolute, or the baseline is 0 (no share of nothing).
 */
export function formatChange(entry: ComparisonEntry): string | null {
  if (entry.observed === null || entry.baseline === null) return null;
  const limit = entry.limit === null ? undefined : parseLimit(entry.limit);
  const delta = entry.observed - entry.baseline;
  if ((limit && !limit.relative) || entry.baseline === 0) {
    const sign = delta >= 0 ? "+" : "-";
    const { stat } = splitStatKey(entry.key);
    const magnitude =
      stat === "rate" && Math.abs(delta) <= 1
        ? `${(Math.abs(delta) * 100).toFixed(2)} pts`
        : formatStat(entry.key, Math.abs(delta));
    return `${sign}${magnitude}`;
  }
  const percent = (delta / Math.abs(entry.baseline)) * 100;
  return `${percent >= 0 ? "+" : ""}${percent.toFixed(Math.abs(percent) < 10 ? 1 : 0)}%`;
}

/** "5 passed revisions": what a baseline is the median of. */
export const passedRevisionsText = (count: number) =>
  `${count} passed ${count === 1 ? "revision" : "revisions"}`;

/**
 * One line for the verdict: the entry that regressed, else the headline latency, else the
 * first with a value. "p95 52.9 ms, +18% vs baseline of 5 passed revisions".
 */
export function comparisonLine(comparison: Comparison | undefined): string | null {
  if (!comparison) return null;
  const entry =
    comparison.entries.find((e) => e.regressed) ??
    comparison.entries.find((e) => e.key === COMPARED_BY_DEFAULT[0] && e.observed !== null) ??
    comparison.entries.find((e) => e.observed !== null);
  if (!entry) return null;
  const observed = `${statLabel(entry.key)} ${formatStat(entry.key, entry.observed)}`;
  if (comparison.baselineRuns === 0) return `${observed}, no baseline yet`;
  const change = formatChange(entry);
  if (change === null) return `${observed}, not in the baseline`;
  const limit = entry.limit ? ` (max_regression ${entry.limit})` : "";
  return `${observed}, ${change} vs baseline of ${passedRevisionsText(comparison.baselineRuns)}${limit}`;
}
