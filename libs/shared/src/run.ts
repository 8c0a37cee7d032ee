import { z } from "zod";
import { k6PlanSchema } from "./k6-plan";
import type { K6Progress } from "./k6-progress";

/**
 * What a worker found out about one k6 run. `verdict` is the only thing Flagger acts on;
 * `outcome` says why, in a word a dashboard or a metric label can use.
 */
export const outcomes = [
  "passed",
  "thresholds_failed",
  // k6 passed, but the run shows no evidence (no completed iteration, no samples, exceptions)
  "no_evidence",
  "script_error",
  "test_aborted",
  "aborted",
  "invalid_script",
  // k6's own errors with an exit code of their own (errext/exitcodes)
  "cloud_run_failed",
  "setup_timeout",
  "teardown_timeout",
  "invalid_config",
  "marked_failed",
  "timeout",
  "setup_failed",
  "error",
  // ended before k6 judged it: a newer revision's run replaced it, or an operator stopped it
  "superseded",
  "cancelled",
  // thresholds passed, but a `max_regression` limit against the canary's baseline did not
  "regressed",
  // `fail_on_saturation`: the load generator ran out of CPU, so its figures are not the target's
  "saturated",
] as const;
export type Outcome = (typeof outcomes)[number];

export const thresholdResultSchema = z.object({
  metric: z.string(),
  expression: z.string(),
  ok: z.boolean(),
  observed: z.number().nullable(),
});
export type ThresholdResult = z.infer<typeof thresholdResultSchema>;

export const keyMetricsSchema = z.object({
  httpReqDurationAvg: z.number().nullable(),
  httpReqDurationP95: z.number().nullable(),
  httpReqFailedRate: z.number().nullable(),
  iterations: z.number().nullable(),
  checksRate: z.number().nullable(),
});
export type KeyMetrics = z.infer<typeof keyMetricsSchema>;

/** One `metric:stat` of a run against the canary's baseline (the worker's regression.ts). */
export const comparisonEntrySchema = z.object({
  /** `http_req_duration:p(95)`: a metric (or sub-metric) of the summary and one of its stats. */
  key: z.string(),
  observed: z.number().nullable(),
  /** Median of the baseline runs' values; null with no baseline run that has it. */
  baseline: z.number().nullable(),
  /** The `max_regression` limit as written (`+20%`), when one applies to this key. */
  limit: z.string().nullable(),
  /** True when a limit applies and the change is beyond it. */
  regressed: z.boolean(),
});
export type ComparisonEntry = z.infer<typeof comparisonEntrySchema>;

/** A run against the median of the last passed runs of its canary, phase and script. */
export const comparisonSchema = z.object({
  /** Runs the baseline is the median of (0: no baseline yet). */
  baselineRuns: z.number().int().nonnegative(),
  /** Their revisions (checksums), newest first. */
  revisions: z.array(z.string()),
  entries: z.array(comparisonEntrySchema),
});
export type Comparison = z.infer<typeof comparisonSchema>;

/** How busy the load generator was: k6's CPU use sampled against the CPU it may use. */
export const saturationSchema = z.object({
  /** Share of the samples (0..1) where k6 used, or waited for, nearly all the CPU available to it. */
  share: z.number(),
  samples: z.number().int().nonnegative(),
  /** CPUs k6 could use (cgroup quota or cores of its affinity mask). */
  cpus: z.number(),
  /** Highest CPU use seen, in CPUs (1.0 = one core busy). */
  peakCpus: z.number(),
});
export type Saturation = z.infer<typeof saturationSchema>;

export const runResultSchema = z.object({
  verdict: z.enum(["pass", "fail"]),
  outcome: z.enum(outcomes),
  reason: z.string(),
  exitCode: z.number().nullable(),
  thresholds: z.array(thresholdResultSchema),
  metrics: keyMetricsSchema,
  cloudUrl: z.string().nullable(),
  durationMs: z.number(),
  /** What the run's evidence does not show, said with the verdict (no thresholds, ...). */
  warnings: z.array(z.string()).optional(),
  /** The k6 that ran and the load it was asked for (k6 inspect); absent when k6 never ran. */
  k6: k6PlanSchema.optional(),
  /**
   * What the test is (regression.ts `testDigest`): only runs of the same test are each
   * other's baseline. Absent from runs judged before it existed: they are no one's baseline.
   */
  testDigest: z.string().optional(),
  /** Summary values by `metric:stat` (comparison.ts STORED_STATS and `max_regression`'s keys). */
  stats: z.record(z.string(), z.number()).optional(),
  /** This run against the canary's baseline; absent when k6 produced no summary. */
  comparison: comparisonSchema.optional(),
  /** k6's CPU use during the run; absent when it was not sampled (not Linux, k6 never ran). */
  saturation: saturationSchema.optional(),
});
export type RunResult = z.infer<typeof runResultSchema>;

export const emptyMetrics: KeyMetrics = {
  httpReqDurationAvg: null,
  httpReqDurationP95: null,
  httpReqFailedRate: null,
  iterations: null,
  checksRate: null,
};

/**
 * A failed verdict with no k6 result behind it: k6 could not start (bad secret reference,
 * missing binary) or the run was lost (its job vanished, it failed for good).
 */
export function failedResult(outcome: Outcome, reason: string, durationMs = 0): RunResult {
  return {
    verdict: "fail",
    outcome,
    reason,
    exitCode: null,
    thresholds: [],
    metrics: emptyMetrics,
    cloudUrl: null,
    durationMs,
    warnings: [],
  };
}

/**
 * Which check a run is, for which canary: the one definition every view of a run extends
 * (the job a worker runs, the record in Redis, the JSON of the API). A field added here
 * reaches all of them; the webhook payload is where its value comes from.
 */
export const runIdentitySchema = z.object({
  runKey: z.string().min(1),
  namespace: z.string(),
  name: z.string(),
  phase: z.string(),
  checksum: z.string(),
});
export type RunIdentity = z.infer<typeof runIdentitySchema>;

/** The identity part of any view of a run (other fields dropped). */
export function identityOf(run: RunIdentity): RunIdentity {
  return runIdentitySchema.parse(run);
}

export const runStatuses = ["queued", "running", "finished"] as const;
export type RunStatus = (typeof runStatuses)[number];

/** One run as kept in history (compact: no script, no env values, no output). */
export interface RunRecord extends RunIdentity {
  id: string;
  status: RunStatus;
  attempt: number;
  /** The worker of the current (or last) attempt. */
  worker: string | null;
  enqueuedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  delivered: boolean;
  verdict: "pass" | "fail" | null;
  outcome: Outcome | null;
  reason: string | null;
  result: RunResult | null;
  slackChannels: string[];
  /** What the call that created the run did not understand (unknown metadata keys). */
  warnings: string[];
  slackThreads: SlackThread[];
  cloudUrl: string | null;
  /**
   * Whose run it is for fair sharing and caps: `token:<name>` (a token bound to namespaces)
   * or `namespace:<ns>` (RunStore's `ownerOf`).
   */
  owner: string;
  /** Its place in the fair ordering (BullMQ job priority); null for runs older than it. */
  priority: number | null;
  /** The run of the newer revision that ended this one (outcome `superseded`). */
  supersededBy: string | null;
  /** The call that created that run: its webhook token's name and source address. */
  supersededByCaller: RunCaller | null;
  /** Who cancelled it (outcome `cancelled`; the reason is in `reason`). */
  cancelledBy: string | null;
  /**
   * Progress of the current attempt's k6 (k6-progress.ts): when `k6 run` started, how long
   * its scenarios should take (k6 inspect; null when iterations decide it) and its last
   * VU and iteration counts. Null until k6 starts, and for records older than them.
   */
  k6StartedAt: number | null;
  expectedMs: number | null;
  k6Progress: K6Progress | null;
}

/**
 * Who made a webhook call, as far as k6-gate can tell: the name of the token it presented
 * (a `WEBHOOK_TOKENS_FILE` entry, or `WEBHOOK_TOKEN`; null with none configured) and the
 * address its connection came from (a proxy's, behind one; null when unknown).
 */
export interface RunCaller {
  tokenName: string | null;
  address: string | null;
}

export interface SlackThread {
  /** Slack's channel id (what chat.update and file uploads need). */
  channel: string;
  ts: string;
  /** The channel as `slack_channels` names it, to find the thread again after a crash. */
  requested?: string;
}
