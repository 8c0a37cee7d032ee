import { z } from "zod";
import { k6PlanSchema, saturationSchema } from "@k6-gate/shared";
import { K6Log } from "./k6-log";
import { MetricStream, type Aggregate } from "./metric-stream";
import type { RunK6Outcome } from "./run-k6";
import { TailBuffer } from "./tail-buffer";

/**
 * What a pod's runner (pod-run.ts) prints as its last stdout line, and the Job runner reads
 * back through the API server: one run's RunK6Outcome as data. Only k6-gate's own code
 * writes that stdout; k6 runs as another user with its output piped to the runner, so a
 * script cannot add a line to it (docs/decisions.md, "Runners").
 */
export const POD_RESULT_MARK = "k6-gate-pod-result";

/** An empty aggregate's extremes are infinite, which JSON writes as null. */
const extreme = (empty: number) =>
  z
    .number()
    .nullable()
    .transform((value) => value ?? empty);

const aggregateSchema = z
  .object({
    count: z.number().int().nonnegative(),
    sum: z.number(),
    nonZero: z.number().int().nonnegative(),
    min: extreme(Number.POSITIVE_INFINITY),
    max: extreme(Number.NEGATIVE_INFINITY),
    last: z.number(),
    values: z.array(z.number()).optional(),
  })
  // JSON has no undefined: a metric whose values were not kept has no `values`.
  .transform((aggregate): Aggregate => ({ ...aggregate, values: aggregate.values }));

const streamSchema = z.object({
  types: z.record(z.string(), z.enum(["counter", "gauge", "rate", "trend"])),
  judgedThresholds: z.record(z.string(), z.array(z.string())),
  byMetric: z.record(z.string(), aggregateSchema),
  selected: z.array(z.object({ key: z.string(), aggregate: aggregateSchema })),
  firstTime: z.string().nullable(),
  lastTime: z.string().nullable(),
  http: z.object({
    requests: z.number().int().nonnegative(),
    withStatus: z.number().int().nonnegative(),
    noResponse: z.number().int().nonnegative(),
    serverErrors: z.number().int().nonnegative(),
  }),
  problem: z.string().nullable(),
});

const outcomeSchema = z.object({
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  timedOut: z.boolean(),
  cancelled: z.boolean(),
  stream: streamSchema,
  declaredThresholds: z.array(z.object({ metric: z.string(), expression: z.string() })).nullable(),
  output: z.string(),
  head: z.string(),
  durationMs: z.number().nonnegative(),
  spawnError: z.string().nullable(),
  maxDurationMs: z.number().nonnegative(),
  scriptDurationMs: z.number().nonnegative().nullable(),
  plan: k6PlanSchema.omit({ version: true }).nullable(),
  log: z.object({
    interruptedIterations: z.number().int().nonnegative(),
    firstInterruption: z.string().nullable(),
    lastError: z.string().nullable(),
  }),
  saturation: saturationSchema.optional(),
});

const podResultSchema = z.object({ [POD_RESULT_MARK]: z.literal(1), outcome: outcomeSchema });

/** The line pod-run.ts prints for an outcome (a stream outcome: pods do not run k6 Cloud). */
export function podResultLine(outcome: RunK6Outcome): string {
  if (outcome.measured.from !== "stream") throw new Error("a pod runs k6 with its metric stream");
  const { log } = outcome;
  const document: z.input<typeof outcomeSchema> = {
    exitCode: outcome.exitCode,
    signal: outcome.signal,
    timedOut: outcome.timedOut,
    cancelled: outcome.cancelled,
    stream: outcome.measured.stream.snapshot(),
    declaredThresholds: outcome.declaredThresholds,
    output: outcome.output.text(),
    head: outcome.head,
    durationMs: outcome.durationMs,
    spawnError: outcome.spawnError,
    maxDurationMs: outcome.maxDurationMs,
    scriptDurationMs: outcome.scriptDurationMs,
    plan: outcome.plan,
    log: {
      interruptedIterations: log.interruptedIterations,
      firstInterruption: log.firstInterruption,
      lastError: log.lastError,
    },
    saturation: outcome.saturation,
  };
  return JSON.stringify({ [POD_RESULT_MARK]: 1, outcome: document });
}

/**
 * The outcome in a pod's log: its last line, which must be the runner's result document;
 * a problem (named) when there is none or it does not parse.
 */
export function outcomeOfPodLog(
  log: string,
  outputMaxBytes: number,
): { ok: true; outcome: RunK6Outcome } | { ok: false; problem: string } {
  const last = log.trimEnd().split("\n").at(-1) ?? "";
  let json: unknown;
  try {
    json = JSON.parse(last);
  } catch {
    return { ok: false, problem: "the runner pod printed no result (its last line is not one)" };
  }
  const parsed = podResultSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      problem: `the runner pod's result is not valid: ${issue?.path.join(".")}: ${issue?.message}`,
    };
  }
  const { stream, output: text, log: counts, ...rest } = parsed.data.outcome;
  const output = new TailBuffer(outputMaxBytes);
  output.push(Buffer.from(text));
  const k6Log = new K6Log();
  Object.assign(k6Log, counts);
  return {
    ok: true,
    outcome: {
      ...rest,
      measured: { from: "stream", stream: MetricStream.fromSnapshot(stream) },
      output,
      log: k6Log,
    },
  };
}
