import type { Aggregate, MetricStreamSnapshot } from "./metric-stream";

/**
 * What several k6 instances measured, as one k6 that took every sample would have (the
 * runners of one test split in execution segments, as k6-operator runs it;
 * docs/decisions.md, "Runners"). Counts, sums and kept values add, so a Trend's
 * percentiles are exactly those of the whole test; a Gauge's value is the largest of the
 * runners' last ones (nothing orders samples across runners). The first problem voids the
 * whole.
 */
export function mergeStreamSnapshots(parts: MetricStreamSnapshot[]): MetricStreamSnapshot {
  const merged: MetricStreamSnapshot = {
    types: {},
    judgedThresholds: {},
    byMetric: {},
    selected: [],
    firstTime: null,
    lastTime: null,
    http: { requests: 0, withStatus: 0, noResponse: 0, serverErrors: 0 },
    problem: null,
  };
  const selected = new Map<string, Aggregate>();
  for (const part of parts) {
    Object.assign(merged.types, part.types);
    for (const [metric, thresholds] of Object.entries(part.judgedThresholds)) {
      merged.judgedThresholds[metric] ??= thresholds;
    }
    for (const [metric, aggregate] of Object.entries(part.byMetric)) {
      merged.byMetric[metric] = combine(merged.byMetric[metric], aggregate);
    }
    for (const { key, aggregate } of part.selected) {
      selected.set(key, combine(selected.get(key), aggregate));
    }
    merged.firstTime = earliest(merged.firstTime, part.firstTime);
    merged.lastTime = latest(merged.lastTime, part.lastTime);
    merged.http.requests += part.http.requests;
    merged.http.withStatus += part.http.withStatus;
    merged.http.noResponse += part.http.noResponse;
    merged.http.serverErrors += part.http.serverErrors;
    merged.problem ??= part.problem;
  }
  merged.selected = [...selected].map(([key, aggregate]) => ({ key, aggregate }));
  return merged;
}

function combine(into: Aggregate | undefined, part: Aggregate): Aggregate {
  if (!into) return { ...part, values: part.values && [...part.values] };
  return {
    count: into.count + part.count,
    sum: into.sum + part.sum,
    nonZero: into.nonZero + part.nonZero,
    min: Math.min(into.min, part.min),
    max: Math.max(into.max, part.max),
    last: Math.max(into.last, part.last),
    // Kept by every runner or by none: each ran the same script with the same thresholds.
    values: into.values && part.values ? into.values.concat(part.values) : undefined,
  };
}

const earliest = (a: string | null, b: string | null) =>
  a === null ? b : b === null ? a : Date.parse(b) < Date.parse(a) ? b : a;
const latest = (a: string | null, b: string | null) =>
  a === null ? b : b === null ? a : Date.parse(b) > Date.parse(a) ? b : a;
