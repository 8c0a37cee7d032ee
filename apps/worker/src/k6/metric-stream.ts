import { z } from "zod";

/**
 * k6's JSON output (`--out json=<fifo>`), read as k6 writes it: one JSON object a line,
 * a `Metric` line when a metric is first seen, then a `Point` line per sample. k6's Go code
 * writes it during the run and closes it before `handleSummary()` runs, so, unlike the
 * summary export (which k6 writes from the script's own JavaScript runtime), the script
 * cannot write it. Only the figures the gate judges on are kept: per metric (and per
 * sub-metric a threshold or a stat reads) its count, sum, extremes, last value and, for
 * the selectors asked for, every value (k6 keeps every Trend value in memory too).
 */
/**
 * A sample line, checked by hand: there are about 13 per HTTP request, and zod would double
 * the cost of reading them (bench/metric-stream.ts).
 */
interface Point {
  metric: string;
  time: string;
  value: number;
  tags: Record<string, unknown> | undefined;
}

function pointOf(json: unknown): Point | undefined {
  if (typeof json !== "object" || json === null) return undefined;
  const { type, metric, data } = json as Record<string, unknown>;
  if (type !== "Point" || typeof metric !== "string") return undefined;
  if (typeof data !== "object" || data === null) return undefined;
  const { time, value, tags } = data as Record<string, unknown>;
  if (typeof time !== "string" || typeof value !== "number") return undefined;
  if (tags !== null && tags !== undefined && typeof tags !== "object") return undefined;
  return { metric, time, value, tags: (tags ?? undefined) as Point["tags"] };
}
const metricSchema = z.object({
  type: z.literal("Metric"),
  metric: z.string(),
  data: z.object({
    type: z.enum(["counter", "gauge", "rate", "trend"]),
    /** The thresholds k6 judges the metric on (a sub-metric's are not listed here). */
    thresholds: z.array(z.union([z.string(), z.object({ threshold: z.string() })])).nullish(),
  }),
});

export type MetricType = z.infer<typeof metricSchema>["data"]["type"];

/** Longer than any line k6 writes for a sample (a long URL tag included). */
const MAX_LINE_BYTES = 1024 * 1024;

export interface Aggregate {
  count: number;
  sum: number;
  /** Samples whose value is not 0 (a Rate's "true"). */
  nonZero: number;
  min: number;
  max: number;
  last: number;
  /** Every value, only for the selectors that need percentiles. */
  values: number[] | undefined;
}

const emptyAggregate = (keepValues: boolean): Aggregate => ({
  count: 0,
  sum: 0,
  nonZero: 0,
  min: Number.POSITIVE_INFINITY,
  max: Number.NEGATIVE_INFINITY,
  last: 0,
  values: keepValues ? [] : undefined,
});

function add(aggregate: Aggregate, value: number): void {
  aggregate.count += 1;
  aggregate.sum += value;
  if (value !== 0) aggregate.nonZero += 1;
  if (value < aggregate.min) aggregate.min = value;
  if (value > aggregate.max) aggregate.max = value;
  aggregate.last = value;
  aggregate.values?.push(value);
}

export interface MetricStreamSnapshot {
  types: Record<string, MetricType>;
  judgedThresholds: Record<string, string[]>;
  byMetric: Record<string, Aggregate>;
  selected: { key: string; aggregate: Aggregate }[];
  firstTime: string | null;
  lastTime: string | null;
  http: HttpAnswers;
  problem: string | null;
}

/** `http_req_duration{status:200, method:GET}` as k6 parses it: a name and tags to match. */
export interface Selector {
  key: string;
  metric: string;
  tags: [string, string][];
}

export function selectorOf(key: string): Selector {
  const open = key.indexOf("{");
  if (open < 0 || !key.endsWith("}")) return { key, metric: key.trim(), tags: [] };
  const tags = key
    .slice(open + 1, -1)
    .split(",")
    .filter((pair) => pair.trim() !== "")
    .map((pair): [string, string] => {
      const colon = pair.indexOf(":");
      const value = pair.slice(colon + 1).trim();
      return [pair.slice(0, colon).trim(), value.replace(/^(["'`])(.*)\1$/, "$2")];
    });
  return { key, metric: key.slice(0, open).trim(), tags };
}

/** HTTP answers by what they were: no response at all (status 0), 5xx, or anything else. */
export interface HttpAnswers {
  requests: number;
  /** Requests that carried a status tag (a script may drop the tag with `systemTags`). */
  withStatus: number;
  noResponse: number;
  serverErrors: number;
}

export class MetricStream {
  private pending = "";
  private readonly types = new Map<string, MetricType>();
  /** Thresholds by metric, as k6 itself announced them in `Metric` lines. */
  readonly judgedThresholds = new Map<string, string[]>();
  private readonly byMetric = new Map<string, Aggregate>();
  private readonly selected = new Map<string, { selector: Selector; aggregate: Aggregate }[]>();
  private firstTime: string | undefined;
  private lastTime: string | undefined;
  readonly http: HttpAnswers = { requests: 0, withStatus: 0, noResponse: 0, serverErrors: 0 };
  /** The first line k6 would not have written; set, the stream proves nothing. */
  problem: string | undefined;

  /**
   * The metrics and sub-metrics whose values are kept (thresholds, stats), given before
   * the first line.
   */
  keep(keys: string[]): void {
    for (const selector of keys.map(selectorOf)) {
      const list = this.selected.get(selector.metric) ?? [];
      if (list.some((entry) => entry.selector.key === selector.key)) continue;
      list.push({ selector, aggregate: emptyAggregate(true) });
      this.selected.set(selector.metric, list);
    }
  }

  push(chunk: Buffer | string): void {
    const text = this.pending + chunk.toString();
    let start = 0;
    for (let newline = text.indexOf("\n"); newline >= 0; newline = text.indexOf("\n", start)) {
      this.line(text.slice(start, newline));
      start = newline + 1;
    }
    this.pending = text.slice(start);
    if (this.pending.length > MAX_LINE_BYTES) {
      this.fail("a line longer than k6 writes");
      this.pending = "";
    }
  }

  end(): void {
    if (this.pending.trim() !== "") this.line(this.pending);
    this.pending = "";
  }

  typeOf(metric: string): MetricType | undefined {
    return this.types.get(metric);
  }

  /** Every metric that got a sample. */
  get metrics(): string[] {
    return [...this.byMetric.keys()];
  }

  /** The aggregate of a metric or of a sub-metric asked for at construction. */
  aggregateOf(key: string): Aggregate | undefined {
    const selector = selectorOf(key);
    if (selector.tags.length === 0) return this.byMetric.get(selector.metric);
    return this.selected.get(selector.metric)?.find((entry) => entry.selector.key === key)
      ?.aggregate;
  }

  /** Seconds from the first sample to the last: a Counter's `rate` is its count over them. */
  get seconds(): number {
    const first = Date.parse(this.firstTime ?? "");
    const last = Date.parse(this.lastTime ?? "");
    return Number.isFinite(first) && Number.isFinite(last) ? (last - first) / 1000 : 0;
  }

  /**
   * What was read, as plain data: a pod's runner prints it and the worker judges it
   * (pod-result.ts). Lines still pending are not part of it: call `end()` first.
   */
  snapshot(): MetricStreamSnapshot {
    return {
      types: Object.fromEntries(this.types),
      judgedThresholds: Object.fromEntries(this.judgedThresholds),
      byMetric: Object.fromEntries(this.byMetric),
      selected: [...this.selected.values()].flat().map(({ selector, aggregate }) => ({
        key: selector.key,
        aggregate,
      })),
      firstTime: this.firstTime ?? null,
      lastTime: this.lastTime ?? null,
      http: { ...this.http },
      problem: this.problem ?? null,
    };
  }

  /** The stream a snapshot was taken of, as if its lines had been read here. */
  static fromSnapshot(snapshot: MetricStreamSnapshot): MetricStream {
    const stream = new MetricStream();
    for (const [metric, type] of Object.entries(snapshot.types)) stream.types.set(metric, type);
    for (const [metric, thresholds] of Object.entries(snapshot.judgedThresholds))
      stream.judgedThresholds.set(metric, thresholds);
    for (const [metric, aggregate] of Object.entries(snapshot.byMetric))
      stream.byMetric.set(metric, aggregate);
    for (const { key, aggregate } of snapshot.selected) {
      const selector = selectorOf(key);
      const list = stream.selected.get(selector.metric) ?? [];
      list.push({ selector, aggregate });
      stream.selected.set(selector.metric, list);
    }
    stream.firstTime = snapshot.firstTime ?? undefined;
    stream.lastTime = snapshot.lastTime ?? undefined;
    Object.assign(stream.http, snapshot.http);
    stream.problem = snapshot.problem ?? undefined;
    return stream;
  }

  private fail(problem: string): void {
    this.problem ??= problem;
  }

  private line(text: string): void {
    if (text.trim() === "" || this.problem) return;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.fail("a line that is not JSON");
      return;
    }
    const point = pointOf(json);
    if (point) return this.sample(point);
    const announced = metricSchema.safeParse(json);
    if (!announced.success) {
      this.fail("a line that is not one of k6's metric or sample lines");
      return;
    }
    const { metric, data } = announced.data;
    this.types.set(metric, data.type);
    const thresholds = (data.thresholds ?? []).map((t) =>
      typeof t === "string" ? t : t.threshold,
    );
    if (thresholds.length) this.judgedThresholds.set(metric, thresholds);
  }

  private sample({ metric, time, value, tags }: Point): void {
    this.firstTime ??= time;
    this.lastTime = time;
    const selected = this.selected.get(metric) ?? [];
    let aggregate = this.byMetric.get(metric);
    if (!aggregate) {
      aggregate = emptyAggregate(selected.some((entry) => entry.selector.tags.length === 0));
      this.byMetric.set(metric, aggregate);
    }
    add(aggregate, value);
    for (const { selector, aggregate: sub } of selected) {
      if (selector.tags.length && selector.tags.every(([tag, want]) => tags?.[tag] === want)) {
        add(sub, value);
      }
    }
    if (metric === "http_reqs") this.countAnswer(tags?.status);
  }

  private countAnswer(status: unknown): void {
    this.http.requests += 1;
    if (typeof status !== "string") return;
    this.http.withStatus += 1;
    if (status === "0") this.http.noResponse += 1;
    else if (/^5\d\d$/.test(status)) this.http.serverErrors += 1;
  }
}
