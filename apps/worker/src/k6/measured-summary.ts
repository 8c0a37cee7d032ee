import { splitStatKey } from "@k6-gate/shared";
import { selectorOf, type Aggregate, type MetricStream, type MetricType } from "./metric-stream";
import { hasSamples, observedValue, type Summary } from "./summary";

/** A threshold as `k6 inspect` reports it: the metric (or sub-metric) and its expression. */
export interface DeclaredThreshold {
  metric: string;
  expression: string;
}

/** The types of k6's built-in metrics, for those that got no sample (no `Metric` line). */
const BUILT_IN_TYPES: Record<string, MetricType> = {
  http_reqs: "counter",
  iterations: "counter",
  dropped_iterations: "counter",
  data_sent: "counter",
  data_received: "counter",
  http_req_failed: "rate",
  checks: "rate",
  vus: "gauge",
  vus_max: "gauge",
};
const TREND_PREFIX = /^(?:http_req_|iteration_duration|group_duration|grpc_req_duration|ws_)/;

const PERCENTILE = /^p\((\d+(?:\.\d+)?)\)$/;
// The numbers k6 reads with Go's ParseFloat, but for hex, `Inf` and `1_000` (not judged here).
const EXPRESSION =
  /^\s*([a-z]+|p\(\d+(?:\.\d+)?\))\s*(<=|>=|===|==|!=|<|>)\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?)\s*$/i;

/** k6's Trend percentile (metrics.TrendSink.P): linear between the two nearest values. */
function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  const i = fraction * (sorted.length - 1);
  const low = sorted[Math.floor(i)] as number;
  const high = sorted[Math.ceil(i)] as number;
  return low + (high - low) * (i - Math.floor(i));
}

/** Which type a metric never sampled is, from the aggregate its thresholds read. */
function typeOf(stream: MetricStream, metric: string, aggregates: string[]): MetricType {
  const known = stream.typeOf(metric) ?? BUILT_IN_TYPES[metric];
  if (known) return known;
  if (TREND_PREFIX.test(metric)) return "trend";
  // A custom metric with no sample and no `Metric` line: k6 judges an empty Counter or
  // Gauge on 0 (`errors: ['count<1']` holds), so `count` and `value` read as one; any other
  // aggregate reads as an empty Trend or Rate, whose thresholds k6 skips (no evidence).
  return aggregates.every((aggregate) => aggregate === "count" || aggregate === "value")
    ? "counter"
    : "trend";
}

/** The fields k6's summary export gives a metric of `type`, from what the stream saw. */
function fieldsOf(
  type: MetricType,
  aggregate: Aggregate | undefined,
  percentiles: number[],
  seconds: number,
): Record<string, number> {
  const count = aggregate?.count ?? 0;
  switch (type) {
    case "rate": {
      const passes = aggregate?.nonZero ?? 0;
      return { passes, fails: count - passes, value: count ? passes / count : 0 };
    }
    case "counter": {
      const sum = aggregate?.sum ?? 0;
      return { count: sum, rate: seconds > 0 ? sum / seconds : 0 };
    }
    case "gauge":
      return count && aggregate
        ? { value: aggregate.last, min: aggregate.min, max: aggregate.max }
        : { value: 0, min: 0, max: 0 };
    case "trend": {
      if (!count || !aggregate) return { count: 0, avg: 0, min: 0, med: 0, max: 0 };
      const sorted = Float64Array.from(aggregate.values ?? []).sort();
      const values = Array.from(sorted);
      const fields: Record<string, number> = {
        count,
        avg: aggregate.sum / count,
        min: aggregate.min,
        max: aggregate.max,
      };
      // Percentiles need every value; without them (a metric no key asked for) none is given.
      if (values.length === count) {
        fields.med = percentile(values, 0.5);
        for (const p of percentiles) fields[`p(${p})`] = percentile(values, p / 100);
      }
      return fields;
    }
  }
}

/** Whether `expression` holds on `fields`; undefined when it reads a value they lack. */
function holds(expression: string, fields: Record<string, number>): boolean | undefined {
  const match = EXPRESSION.exec(expression);
  if (!match) return undefined;
  const [, , operator, bound = ""] = match;
  // `rate` of a Rate metric is its `value`, as in k6's summary export.
  const value = observedValue(fields, expression);
  const limit = Number(bound);
  if (value === null) return undefined;
  switch (operator) {
    case "<":
      return value < limit;
    case "<=":
      return value <= limit;
    case ">":
      return value > limit;
    case ">=":
      return value >= limit;
    case "!=":
      return value !== limit;
    default:
      return value === limit;
  }
}

const aggregateOfExpression = (expression: string) =>
  EXPRESSION.exec(expression)?.[1] ?? expression.trim().split(/\s*[<>=!]/)[0] ?? "";

/**
 * The summary k6-gate judges: every metric the stream saw and every (sub-)metric a
 * threshold or a stat key reads, with its thresholds evaluated on what k6 measured.
 * `k6Passed`: a Counter's `rate` is its count over k6's own test duration, which the
 * stream only approximates, so such a threshold is left as k6 judged it. `unjudged`: the
 * sampled thresholds it could not evaluate (an expression or a value it does not read),
 * which only k6's own exit code judged.
 */
export function summaryOf(
  stream: MetricStream,
  thresholds: DeclaredThreshold[],
  statKeys: string[],
  k6Passed: boolean,
): Summary & { unjudged: DeclaredThreshold[] } {
  const readers = new Map<string, string[]>();
  const read = (metric: string, aggregate: string) =>
    readers.set(metric, [...(readers.get(metric) ?? []), aggregate]);
  for (const metric of stream.metrics) read(metric, "count");
  for (const { metric, expression } of thresholds) read(metric, aggregateOfExpression(expression));
  for (const key of statKeys) {
    const { metric, stat } = splitStatKey(key);
    read(metric, stat);
  }
  const metrics: Summary["metrics"] = {};
  const types = new Map<string, MetricType>();
  for (const [key, aggregates] of readers) {
    const type = typeOf(stream, selectorOf(key).metric, aggregates);
    const percentiles = [90, 95, ...aggregates.flatMap((a) => PERCENTILE.exec(a)?.[1] ?? [])].map(
      Number,
    );
    types.set(key, type);
    metrics[key] = fieldsOf(type, stream.aggregateOf(key), percentiles, stream.seconds);
  }
  const unjudged: DeclaredThreshold[] = [];
  for (const { metric, expression } of thresholds) {
    const fields = metrics[metric] as Record<string, number>;
    // A Counter's rate is judged on k6's own test duration, which the stream approximates.
    const approximate =
      types.get(metric) === "counter" && aggregateOfExpression(expression) === "rate";
    const held = holds(expression, fields);
    // k6 skips the thresholds of an empty Trend or Rate: not crossed, and no evidence.
    const sampled = hasSamples(fields);
    if (sampled && held === undefined) unjudged.push({ metric, expression });
    const crossed = sampled && !(approximate && k6Passed) && held === false;
    metrics[metric] = {
      ...fields,
      thresholds: { ...metrics[metric]?.thresholds, [expression]: crossed },
    };
  }
  return { metrics, http: stream.http.requests > 0 ? stream.http : undefined, unjudged };
}
