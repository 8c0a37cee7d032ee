import { passedRevisionsText, type RunRecord } from "@k6-gate/shared";
import { formatMs, formatRate } from "./format";
import {
  checksRateOf,
  errorRateOf,
  p95Of,
  pointsOf,
  type MetricOf,
  type TrendPoint,
} from "./trends";

/** What a canary-page chart plots: one k6 `metric:stat`, as thresholds and comparisons name it. */
export interface ChartMetric {
  title: string;
  metric: string;
  stat: string;
  value: MetricOf;
  unit: "ms" | "rate";
  /** Pass rates live near 100%: their whole 0–100% range is the context. */
  fullRange?: boolean;
}

export const p95Chart: ChartMetric = {
  title: "p95 latency",
  metric: "http_req_duration",
  stat: "p(95)",
  value: p95Of,
  unit: "ms",
};

export const chartMetrics: ChartMetric[] = [
  p95Chart,
  {
    title: "Error rate (http_req_failed)",
    metric: "http_req_failed",
    stat: "rate",
    value: errorRateOf,
    unit: "rate",
  },
  {
    title: "Checks pass rate",
    metric: "checks",
    stat: "rate",
    value: checksRateOf,
    unit: "rate",
    fullRange: true,
  },
];

const keyOf = (chart: ChartMetric) => `${chart.metric}:${chart.stat}`;

export interface ChartPoint extends TrendPoint {
  /** The last run of the revision before this one, with the metric: what the delta is against. */
  previous: { checksum: string; value: number } | null;
  regressed: boolean;
}

/**
 * Marked on a chart when its own `metric:stat` regressed; a regressed run whose record
 * names no charted key (or an older one without entries) is marked on every chart.
 */
function regressedOn(run: RunRecord, chart: ChartMetric): boolean {
  const entries = run.result?.comparison?.entries ?? [];
  if (entries.some((e) => e.regressed && e.key === keyOf(chart))) return true;
  const charted = new Set(chartMetrics.map(keyOf));
  const outcome = run.outcome ?? run.result?.outcome;
  return outcome === "regressed" && !entries.some((e) => e.regressed && charted.has(e.key));
}

/** `runs` oldest first; each point knows the previous revision's value and whether it regressed. */
export function chartPointsOf(runs: RunRecord[], chart: ChartMetric): ChartPoint[] {
  const trend = pointsOf(runs, chart.value);
  let previous: ChartPoint["previous"] = null;
  let current: ChartPoint["previous"] = null;
  return trend.map((point, i) => {
    if (current && current.checksum !== point.checksum) previous = current;
    if (point.value !== null) current = { checksum: point.checksum, value: point.value };
    const run = runs[i];
    return { ...point, previous, regressed: run ? regressedOn(run, chart) : false };
  });
}

const trim = (n: number, decimals: number) => String(Number(n.toFixed(decimals)));

/** Compact values for axis ticks: "250 ms", "1.5 s", "0.5%", "100%". */
export function tickText(chart: ChartMetric, value: number): string {
  return chart.unit === "ms" ? formatMs(value) : `${trim(value * 100, 2)}%`;
}

export function valueText(chart: ChartMetric, value: number): string {
  return chart.unit === "ms" ? formatMs(value) : formatRate(value);
}

/**
 * The change from the previous revision: relative for times ("+18%"), in percentage
 * points for rates ("+0.4 pp": 0% to 2% errors is no percentage of anything).
 */
export function deltaText(chart: ChartMetric, point: ChartPoint): string | null {
  if (point.value === null || !point.previous) return null;
  const { value } = point;
  const before = point.previous.value;
  const sign = (n: number) => (n > 0 ? "+" : n < 0 ? "-" : "±");
  if (chart.unit === "rate") {
    const pp = Number(((value - before) * 100).toFixed(2));
    return `${sign(pp)}${trim(Math.abs(pp), 2)} pp`;
  }
  if (before === 0) return `${sign(value)}${formatMs(Math.abs(value))}`;
  const pct = ((value - before) / before) * 100;
  const shown = Number(Math.abs(pct).toFixed(Math.abs(pct) >= 10 ? 0 : 1));
  return `${sign(shown)}${shown}%`;
}

/** A horizontal line across a chart: a threshold limit or the baseline. */
export interface Level {
  value: number;
  label: string;
  title: string;
}

const EXPRESSION =
  /^\s*(avg|min|med|max|count|rate|value|p\(\d+(?:\.\d+)?\))\s*(<=|<|>=|>|===|==)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/;

/** The run's thresholds on exactly this metric and stat (`p(95)<500` on http_req_duration). */
export function thresholdLevels(run: RunRecord | undefined, chart: ChartMetric): Level[] {
  return (run?.result?.thresholds ?? []).flatMap((t) => {
    const match = EXPRESSION.exec(t.expression);
    if (t.metric !== chart.metric || match?.[1] !== chart.stat) return [];
    const label = t.expression.replace(/\s+/g, "");
    return [
      { value: Number(match[3]), label, title: `threshold ${t.metric} ${label} (latest run)` },
    ];
  });
}

/** The baseline the latest run was compared against, when it had one for this metric. */
export function baselineLevel(run: RunRecord | undefined, chart: ChartMetric): Level | null {
  const comparison = run?.result?.comparison;
  const entry = comparison?.entries.find((e) => e.key === keyOf(chart));
  if (!comparison || !entry || entry.baseline === null) return null;
  const limit = entry.limit ? `, allowed change ${entry.limit}` : "";
  return {
    value: entry.baseline,
    label: `baseline ${valueText(chart, entry.baseline)}`,
    title: `baseline ${valueText(chart, entry.baseline)}: median of the last ${passedRevisionsText(comparison.baselineRuns)}${limit}`,
  };
}
