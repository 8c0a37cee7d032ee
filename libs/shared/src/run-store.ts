import { createHash } from "node:crypto";
import type { RedisClient } from "./redis";
import { callLua, callLuaMany, type LuaCommand } from "./commands/lua-command";
import { CANARY_SUMMARIES, SUMMARY_FIELDS } from "./commands/read-commands";
import {
  CANCEL,
  DECIDE,
  DROP_OUTPUT,
  DROP_RUN,
  FINISH,
  HEARTBEAT,
  K6_PROGRESS,
  LIVE_OUTPUT,
  PLACE,
  RELEASE,
  REQUEUE,
  START,
} from "./commands/run-commands";
import { k6ProgressSchema, type K6Progress } from "./k6-progress";
import { figuresOf, runFiguresSchema, type RunSummary } from "./run-figures";
import { MAX_JOB_PRIORITY, RUN_QUEUE, runJobSchema, type RunJob, type RunSpec } from "./queue";
import {
  failedResult,
  identityOf,
  runIdentitySchema,
  runResultSchema,
  runStatuses,
  type RunCaller,
  type RunRecord,
  type RunResult,
  type SlackThread,
} from "./run";

/** Runs just past a canary's output budget whose output a prune drops (see `prune`). */
const OUTPUT_PRUNE_WINDOW = 20;
/** A run ended by a newer revision's run, and the status it had then. */
export interface SupersededRun {
  id: string;
  was: "queued" | "running";
}

/**
 * What an owner may keep in Redis, checked when a call would create a run (decision 44);
 * 0: no quota. Its output bytes are bounded where output is written
 * (`RetentionPolicy.maxOutputBytesPerOwner`).
 */
export interface OwnerQuotas {
  /** Canaries with runs within the history's age. */
  maxCanaries: number;
  /** Distinct scripts run within the history's age. */
  maxScripts: number;
}

export const quotaNames = ["canaries", "scripts"] as const;
export type QuotaName = (typeof quotaNames)[number];

export type Decision =
  | { action: "attach" | "deliver" | "recent_failure"; run: RunRecord }
  | { action: "created"; run: RunRecord; superseded: SupersededRun[] }
  | { action: "quota"; quota: QuotaName; used: number; limit: number }
  | { action: "busy" };

export interface DecideInput {
  /** What the job will run: stored with the run so it can be queued again after a crash. */
  job: Omit<RunJob, "runId">;
  minFailureDelayMs: number;
  maxQueueDepth: number;
  now: number;
  /**
   * A created run ends the canary's queued and running runs of the same phase for other
   * revisions (metadata `supersede`, default true); false also keeps this run from being
   * superseded later.
   */
  supersede?: boolean;
  /** Who called: recorded on the runs this call supersedes. */
  caller?: RunCaller;
  /** Whose run it is for fair sharing and quotas (`ownerOf`); absent: its namespace's. */
  owner?: string;
  /** The owner's quotas; absent: none. */
  quotas?: OwnerQuotas;
  /**
   * The call will long-poll: the run it attaches to or creates is marked waited on by this
   * API process (`holder`) for `leaseMs`, in the same script, so no new revision can
   * supersede it in between (decision 41). Absent (`wait_for_results: "false"`): no lease.
   */
  waiter?: WaitLease;
}

/** An API process's lease on the runs its calls wait on (decision 41). */
export interface WaitLease {
  holder: string;
  leaseMs: number;
}

/** A script's SHA-256 (hex): how scripts are kept and counted, once per content. */
export const scriptDigestOf = (script: string): string =>
  createHash("sha256").update(script).digest("hex");

/**
 * The unit fair sharing and caps count by (decision 42): the webhook token a call presented
 * when it is bound to namespaces (one team, however many namespaces it spans), else the
 * namespace (no tokens, or `WEBHOOK_TOKEN`, which everyone holds alike).
 */
export function ownerOf(namespace: string, boundTokenName?: string | null): string {
  return boundTokenName ? `token:${boundTokenName}` : `namespace:${namespace}`;
}

export interface StartInput {
  worker: string;
  attemptToken: string;
  now?: number;
  /** Running k6 one owner (`ownerOf`) may have at once; 0 or undefined: no cap. */
  maxRunsPerOwner?: number;
  /** How long the attempt's owner slot lasts without a heartbeat. */
  leaseMs?: number;
}

/** `deferred`: the run's owner is at its cap; nothing was written, try again shortly. */
export type StartOutcome =
  { state: "started"; run: RunRecord } | { state: "finished" | "missing" | "deferred" };

export interface CancelInput {
  reason: string;
  /** Who asked (the dashboard login), recorded on the run. */
  by: string;
  now?: number;
}

/** `cancelled`: ended now (`was` its status before); `finished`: it had a verdict already. */
export type CancelOutcome =
  | { state: "cancelled"; run: RunRecord; was: "queued" | "running" }
  | { state: "finished"; run: RunRecord }
  | { state: "missing" };

/** What a running attempt's heartbeat learned: go on, or stop k6 (and why). */
export type HeartbeatOutcome =
  { state: "running" } | { state: "ended"; reason: string } | { state: "lost" };

/** A queued run's place: `ahead` runs will be taken before it, of `queued` waiting. */
export interface QueueStanding {
  ahead: number;
  queued: number;
}

export interface FinishInput {
  result: RunResult;
  /** The attempt recording it; empty ends the run whatever attempt holds it (job gone). */
  attemptToken: string;
  /** Stored with the verdict; undefined leaves the output as it is. */
  output?: string;
  now?: number;
}

/** What a running attempt tells of its k6 (RunStore.setK6Progress). */
export interface K6ProgressUpdate {
  started?: { at: number; expectedMs: number | null };
  progress?: K6Progress;
}

/** `recorded`: this call wrote the verdict; `stale`: another attempt holds the run. */
export type FinishOutcome =
  { state: "recorded" | "already" | "stale"; run: RunRecord } | { state: "missing" };

export interface Canary {
  namespace: string;
  name: string;
  lastRunAt: number;
}

/** Runs not yet judged, per canary. */
export interface InFlightCounts {
  queued: number;
  running: number;
}

/** A run the in-flight sets count, as the reconciler sees it. */
export interface InFlightRun {
  id: string;
  set: "queued" | "running";
  /** The run's own status; null when its record is gone. */
  status: RunRecord["status"] | null;
}

/** An owner's slot lasts this long without a heartbeat (a worker passes its LOCK_DURATION). */
const DEFAULT_LEASE_MS = 20_000;

export interface RetentionPolicy {
  maxRunsPerCanary: number;
  maxAgeMs: number;
  /** Runs per canary whose k6 output is kept (the newest); older runs keep their verdict. */
  maxOutputsPerCanary: number;
  /**
   * Bytes of k6 output one owner keeps (decision 44): an output beyond it is cut to its
   * tail. 0 or undefined: no bound beyond the counts.
   */
  maxOutputBytesPerOwner?: number;
}

/** The retention settings both processes read (config.ts), as RunStore takes them. */
export function retentionPolicyOf(config: {
  HISTORY_MAX_RUNS_PER_CANARY: number;
  HISTORY_MAX_AGE: number;
  HISTORY_MAX_OUTPUTS_PER_CANARY: number;
  MAX_OUTPUT_BYTES_PER_OWNER: number;
}): RetentionPolicy {
  return {
    maxRunsPerCanary: config.HISTORY_MAX_RUNS_PER_CANARY,
    maxAgeMs: config.HISTORY_MAX_AGE,
    maxOutputsPerCanary: config.HISTORY_MAX_OUTPUTS_PER_CANARY,
    maxOutputBytesPerOwner: config.MAX_OUTPUT_BYTES_PER_OWNER,
  };
}

/**
 * k6-gate's own records of runs in Redis: which run a key has in flight, each run's
 * status and verdict, and the per-canary history. Kept apart from BullMQ's jobs, which
 * are pruned; these are what the dashboard and the four-step rule read.
 */
export class RunStore {
  readonly finishedChannel: string;
  /** Where a run ended while running is announced (`{runId, reason}`): its worker stops k6. */
  readonly stopChannel: string;
  private readonly gate: string;
  /** BullMQ's keys of the run queue (`<prefix>:k6-runs:`): a job's hash is this plus its id. */
  private readonly jobPrefix: string;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly retention: RetentionPolicy,
  ) {
    this.gate = `${prefix}:gate:`;
    this.jobPrefix = `${prefix}:${RUN_QUEUE}:`;
    this.finishedChannel = `${this.gate}finished`;
    this.stopChannel = `${this.gate}stop`;
  }

  private runHash(runId: string): string {
    return `${this.gate}run:${runId}`;
  }
  private keyHash(runKey: string): string {
    return `${this.gate}key:${runKey}`;
  }
  private canaryRuns(namespace: string, name: string): string {
    return `${this.gate}canary:${namespace}/${name}`;
  }
  private outputKey(runId: string): string {
    return `${this.gate}output:${runId}`;
  }
  /** The API processes whose calls wait on a run, by when each lease lapses. */
  private waitedKey(runId: string): string {
    return `${this.gate}waited:${runId}`;
  }
  /** RunDetailsStore's: what a run was given, without its script. */
  private inputsKey(runId: string): string {
    return `${this.gate}inputs:${runId}`;
  }
  private specKey(runId: string): string {
    return `${this.gate}spec:${runId}`;
  }
  /** BullMQ's ZSET of prioritized jobs: where workers take the next job from. */
  private get bullPrioritized(): string {
    return `${this.jobPrefix}prioritized`;
  }
  private get canaries(): string {
    return `${this.gate}canaries`;
  }
  private get queued(): string {
    return `${this.gate}queued`;
  }
  private get running(): string {
    return `${this.gate}running`;
  }
  private get recentDurations(): string {
    return `${this.gate}recent-durations`;
  }
  private get queueOrder(): string {
    return `${this.gate}queue-order`;
  }

  private call<K extends string, A extends string>(
    command: LuaCommand<K, A>,
    keys: Record<K, string>,
    args: Record<A, string | number>,
  ): Promise<unknown> {
    return callLua(this.redis, command, keys, args);
  }

  async decide(input: DecideInput): Promise<Decision> {
    const { job } = input;
    const owner = input.owner ?? ownerOf(job.namespace);
    const reason = `superseded by revision ${job.checksum.slice(0, 12) || "(no checksum)"}`;
    const reply = await this.call(
      DECIDE,
      {
        keyHash: this.keyHash(job.runKey),
        queuedSet: this.queued,
        runningSet: this.running,
        canaryRuns: this.canaryRuns(job.namespace, job.name),
        canaries: this.canaries,
        canaryInFlight: `${this.gate}canary-inflight:${job.namespace}/${job.name}`,
        ownerQueued: `${this.gate}owner-queued:${owner}`,
        ownerSlots: `${this.gate}slots:${owner}`,
        ownerCanaries: `${this.gate}owner:${owner}:canaries`,
        ownerScripts: `${this.gate}owner:${owner}:scripts`,
        queueOrder: this.queueOrder,
        bullPrioritized: this.bullPrioritized,
        bullCounter: `${this.jobPrefix}pc`,
      },
      {
        gate: this.gate,
        jobPrefix: this.jobPrefix,
        runKey: job.runKey,
        now: input.now,
        minFailureDelayMs: input.minFailureDelayMs,
        maxQueueDepth: input.maxQueueDepth,
        identity: JSON.stringify(identityOf(job)),
        owner,
        slackChannels: JSON.stringify(job.slackChannels),
        warnings: JSON.stringify(job.warnings ?? []),
        canaryId: `${job.namespace}/${job.name}`,
        ttlMs: this.retention.maxAgeMs,
        spec: JSON.stringify(job),
        supersede: input.supersede === false ? "0" : "1",
        supersededReason: reason,
        supersededResult: JSON.stringify(failedResult("superseded", reason)),
        callerToken: input.caller?.tokenName ?? "",
        callerAddress: input.caller?.address ?? "",
        maxPriority: MAX_JOB_PRIORITY,
        scriptDigest: scriptDigestOf(job.script),
        maxCanaries: input.quotas?.maxCanaries ?? 0,
        maxScripts: input.quotas?.maxScripts ?? 0,
        finishedChannel: this.finishedChannel,
        stopChannel: this.stopChannel,
        waiter: input.waiter?.holder ?? "",
        waitLeaseMs: input.waiter?.leaseMs ?? 0,
      },
    );
    const [action, flat, ended] = reply as [string, string[], (string | number)[]];
    if (action === "busy") return { action };
    if (action === "quota") {
      const [quota, used, limit] = ended;
      const name = quotaNames.find((known) => known === quota);
      if (!name) throw new Error(`unexpected quota ${String(quota)}`);
      return { action, quota: name, used: Number(used), limit: Number(limit) };
    }
    if (action === "created") {
      const superseded: SupersededRun[] = [];
      for (let i = 0; i + 1 < ended.length; i += 2) {
        superseded.push({ id: String(ended[i]), was: ended[i + 1] as SupersededRun["was"] });
      }
      return { action, run: writtenRecord(flat), superseded };
    }
    if (action === "attach" || action === "deliver" || action === "recent_failure") {
      return { action, run: writtenRecord(flat) };
    }
    throw new Error(`unexpected decision ${action}`);
  }

  async get(runId: string): Promise<RunRecord | null> {
    return toRecord(await this.redis.hgetall(this.runHash(runId)));
  }

  /** Many runs in one round trip, in the order asked; missing ones are left out. */
  async getMany(runIds: string[]): Promise<RunRecord[]> {
    if (runIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of runIds) pipeline.hgetall(this.runHash(id));
    const rows = (await pipeline.exec()) ?? [];
    return rows.flatMap(([, hash]) => {
      const record = toRecord((hash as Record<string, string> | null) ?? {});
      return record ? [record] : [];
    });
  }

  /** The job data of a queued or running run (deleted once it is judged). */
  async job(runId: string): Promise<RunJob | null> {
    const text = await this.redis.get(this.specKey(runId));
    if (!text) return null;
    const parsed = runJobSchema.safeParse({ ...(JSON.parse(text) as RunSpec), runId });
    return parsed.success ? parsed.data : null;
  }

  async queuedCount(): Promise<number> {
    return this.redis.scard(this.queued);
  }

  async runningRuns(): Promise<RunRecord[]> {
    const records = await this.getMany(await this.redis.smembers(this.running));
    return records.filter((run) => run.status === "running");
  }

  /** How long the last runs (any canary) took, newest first: what a wait is estimated from. */
  async recentRunDurations(): Promise<number[]> {
    return (await this.redis.lrange(this.recentDurations, 0, -1)).map(Number);
  }

  /** Every member of the in-flight sets with its run's status, for the reconciler. */
  async inFlightRuns(): Promise<InFlightRun[]> {
    const [queued, running] = await Promise.all([
      this.redis.smembers(this.queued),
      this.redis.smembers(this.running),
    ]);
    const members = [
      ...queued.map((id) => ({ id, set: "queued" as const })),
      ...running.map((id) => ({ id, set: "running" as const })),
    ];
    if (members.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const { id } of members) pipeline.hget(this.runHash(id), "status");
    const statuses = (await pipeline.exec()) ?? [];
    return members.map((member, i) => ({
      ...member,
      status: (statuses[i]?.[1] as RunRecord["status"] | null) ?? null,
    }));
  }

  /** Drops set members whose run is gone or judged: they are no work. */
  async forgetInFlight(run: InFlightRun): Promise<void> {
    await this.redis
      .multi()
      .srem(run.set === "queued" ? this.queued : this.running, run.id)
      .zrem(this.queueOrder, run.id)
      .exec();
  }

  /**
   * Queued and running runs per canary ("namespace/name"), read from the two in-flight
   * sets: the cost follows the runs in flight, not the history.
   */
  async inFlight(): Promise<Map<string, InFlightCounts>> {
    const runs = await this.inFlightRuns();
    const ids = [...new Set(runs.map((run) => run.id))];
    const counts = new Map<string, InFlightCounts>();
    for (const record of await this.getMany(ids)) {
      // The hash is the truth: a set member whose run expired or finished is not counted.
      if (record.status !== "queued" && record.status !== "running") continue;
      const canary = `${record.namespace}/${record.name}`;
      const entry = counts.get(canary) ?? { queued: 0, running: 0 };
      entry[record.status]++;
      counts.set(canary, entry);
    }
    return counts;
  }

  /** Runs of one canary, newest first. */
  async list(namespace: string, name: string, limit = 50): Promise<RunRecord[]> {
    const ids = await this.redis.zrevrange(this.canaryRuns(namespace, name), 0, limit - 1);
    return this.getMany(ids);
  }

  /**
   * Runs of one canary for lists, newest first: identity, state and figures only (a tenth
   * of a record's bytes). Runs recorded before figures were stored, or ended by an API
   * (superseded, cancelled), have theirs derived from the result in a second round trip.
   */
  async summaries(namespace: string, name: string, limit = 50): Promise<RunSummary[]> {
    const ids = await this.redis.zrevrange(this.canaryRuns(namespace, name), 0, limit - 1);
    return this.summariesOf(ids);
  }

  /**
   * `summaries` for many canaries in one round trip: a read script per canary
   * (CANARY_SUMMARIES), not a command per run. Each canary's runs newest first.
   */
  async summariesOfCanaries(
    canaries: { namespace: string; name: string }[],
    limit: number,
  ): Promise<RunSummary[][]> {
    const replies = await callLuaMany(
      this.redis,
      CANARY_SUMMARIES,
      canaries.map(({ namespace, name }) => ({
        keys: { canaryRuns: this.canaryRuns(namespace, name) },
        args: { gate: this.gate, limit },
      })),
    );
    const perCanary = replies.map((runs) => (runs as FieldValues[] | null) ?? []);
    const all = await this.summariesFrom(perCanary.flat());
    let at = 0;
    return perCanary.map((runs) =>
      all.slice(at, (at += runs.length)).flatMap((summary) => summary ?? []),
    );
  }

  private async summariesOf(runIds: string[]): Promise<RunSummary[]> {
    if (runIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of runIds) pipeline.hmget(this.runHash(id), ...SUMMARY_FIELDS);
    const replies = ((await pipeline.exec()) ?? []).map(([, values]) => values as FieldValues);
    return (await this.summariesFrom(replies)).flatMap((summary) => summary ?? []);
  }

  /** HMGET replies of SUMMARY_FIELDS as summaries, in their order (null: no run there). */
  private async summariesFrom(replies: (FieldValues | null)[]): Promise<(RunSummary | null)[]> {
    const rows = replies.map((values) => {
      const row: Record<string, string> = {};
      SUMMARY_FIELDS.forEach((field, i) => {
        const value = values?.[i];
        if (value != null) row[field] = value;
      });
      return row;
    });
    const unfigured = rows.filter((row) => row.status === "finished" && !row.figures);
    if (unfigured.length) {
      const results = this.redis.pipeline();
      for (const row of unfigured) results.hget(this.runHash(row.id as string), "result");
      const found = (await results.exec()) ?? [];
      unfigured.forEach((row, i) => {
        const parsed = runResultSchema.safeParse(parseJson<unknown>(found[i]?.[1] as string, null));
        if (parsed.success) row.figures = JSON.stringify(figuresOf(parsed.data));
      });
    }
    return rows.map(toSummary);
  }

  async canaryCount(): Promise<number> {
    return this.redis.zcard(this.canaries);
  }

  async listCanaries(limit = 200): Promise<Canary[]> {
    const flat = await this.redis.zrevrange(this.canaries, 0, limit - 1, "WITHSCORES");
    const result: Canary[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const [namespace = "", name = ""] = (flat[i] as string).split("/");
      result.push({ namespace, name, lastRunAt: Number(flat[i + 1]) });
    }
    return result;
  }

  async start(runId: string, input: StartInput): Promise<StartOutcome> {
    const [state, flat] = (await this.call(
      START,
      {
        ...this.placingKeys(runId),
        queuedSet: this.queued,
        runningSet: this.running,
      },
      {
        ...this.placingArgs(runId),
        now: input.now ?? Date.now(),
        worker: input.worker,
        attemptToken: input.attemptToken,
        maxRunsPerOwner: input.maxRunsPerOwner ?? 0,
        leaseMs: input.leaseMs ?? DEFAULT_LEASE_MS,
      },
    )) as [string, string[]];
    if (state === "started") return { state, run: writtenRecord(flat) };
    if (state === "finished" || state === "missing" || state === "deferred") return { state };
    throw new Error(`unexpected start state ${state}`);
  }

  /** Hands a run back to the queue; false when `attemptToken` no longer holds it. */
  async requeue(runId: string, attemptToken: string, now = Date.now()): Promise<boolean> {
    const moved = await this.call(
      REQUEUE,
      {
        ...this.placingKeys(runId),
        queuedSet: this.queued,
        runningSet: this.running,
      },
      {
        ...this.placingArgs(runId),
        attemptToken,
        now,
      },
    );
    return moved === 1;
  }

  /** The keys of every command that rewrites queued runs' places in BullMQ's prioritized set. */
  private placingKeys(runId: string) {
    return {
      runHash: this.runHash(runId),
      queueOrder: this.queueOrder,
      bullPrioritized: this.bullPrioritized,
    };
  }

  /** The arguments those commands share. */
  private placingArgs(runId: string) {
    return { gate: this.gate, jobPrefix: this.jobPrefix, runId, maxPriority: MAX_JOB_PRIORITY };
  }

  /**
   * Writes a queued run's place into BullMQ's prioritized set: call it after adding a run's
   * job, which BullMQ places by the priority it was given, at the back of that priority.
   */
  async place(runId: string, now = Date.now()): Promise<void> {
    await this.call(
      PLACE,
      {
        ...this.placingKeys(runId),
      },
      { ...this.placingArgs(runId), now },
    );
  }

  /**
   * A running attempt's heartbeat: renews its owner's slot for `leaseMs` and says whether
   * k6 should go on.
   */
  async heartbeat(
    runId: string,
    attemptToken: string,
    leaseMs = DEFAULT_LEASE_MS,
    now = Date.now(),
  ): Promise<HeartbeatOutcome> {
    const [state, reason] = (await this.call(
      HEARTBEAT,
      { runHash: this.runHash(runId) },
      { gate: this.gate, runId, attemptToken, now, leaseMs },
    )) as [string, string];
    if (state === "running" || state === "lost") return { state };
    if (state === "ended") return { state, reason };
    throw new Error(`unexpected heartbeat state ${state}`);
  }

  /** The attempt's k6 is gone: its owner's slot is free (unless another attempt holds the run). */
  async releaseSlot(runId: string, attemptToken: string, now = Date.now()): Promise<void> {
    await this.call(
      RELEASE,
      {
        ...this.placingKeys(runId),
      },
      {
        ...this.placingArgs(runId),
        attemptToken,
        now,
      },
    );
  }

  /**
   * Ends a queued or running run as `cancelled` (a failed verdict carrying the reason and
   * who asked), wakes its callers and tells its worker to stop k6.
   */
  async cancel(runId: string, input: CancelInput): Promise<CancelOutcome> {
    const reason = `cancelled by ${input.by}: ${input.reason}`;
    const [state, flat, was] = (await this.call(
      CANCEL,
      {
        ...this.placingKeys(runId),
        specKey: this.specKey(runId),
        queuedSet: this.queued,
        runningSet: this.running,
      },
      {
        ...this.placingArgs(runId),
        now: input.now ?? Date.now(),
        reason,
        result: JSON.stringify(failedResult("cancelled", reason)),
        cancelledBy: input.by,
        finishedChannel: this.finishedChannel,
        stopChannel: this.stopChannel,
      },
    )) as [string, string[], string];
    if (state === "missing") return { state };
    if (state === "finished") return { state, run: writtenRecord(flat) };
    if (state === "cancelled" && (was === "queued" || was === "running")) {
      return { state, run: writtenRecord(flat), was };
    }
    throw new Error(`unexpected cancel state ${state}`);
  }

  /** Where a queued run stands in the queue; null when it is not queued (any more). */
  async queueStanding(runId: string): Promise<QueueStanding | null> {
    const [rank, queued] = await this.redis
      .multi()
      .zrank(this.queueOrder, runId)
      .zcard(this.queueOrder)
      .exec()
      .then((rows) => (rows ?? []).map(([, value]) => value as number | null));
    if (rank === null || rank === undefined) return null;
    return { ahead: rank, queued: queued ?? 0 };
  }

  /** Records the verdict once, from the current attempt, and wakes every long-poll. */
  async finish(runId: string, input: FinishInput): Promise<FinishOutcome> {
    const { result } = input;
    const [state, flat] = (await this.call(
      FINISH,
      {
        ...this.placingKeys(runId),
        queuedSet: this.queued,
        runningSet: this.running,
        outputKey: this.outputKey(runId),
        specKey: this.specKey(runId),
        recentDurations: this.recentDurations,
      },
      {
        ...this.placingArgs(runId),
        attemptToken: input.attemptToken,
        finishedAt: input.now ?? Date.now(),
        verdict: result.verdict,
        outcome: result.outcome,
        reason: result.reason,
        result: JSON.stringify(result),
        figures: JSON.stringify(figuresOf(result)),
        cloudUrl: result.cloudUrl ?? "",
        output: input.output ?? "",
        writeOutput: input.output === undefined ? 0 : 1,
        ttlMs: this.retention.maxAgeMs,
        durationMs: result.durationMs,
        maxOutputBytes: this.retention.maxOutputBytesPerOwner ?? 0,
        channel: this.finishedChannel,
      },
    )) as [string, string[]];
    if (state === "missing") return { state };
    if (state === "recorded" || state === "already" || state === "stale") {
      return { state, run: writtenRecord(flat) };
    }
    throw new Error(`unexpected finish state ${state}`);
  }

  /** Live output of a running run; false when `attemptToken` no longer holds it. */
  async setLiveOutput(runId: string, attemptToken: string, output: string): Promise<boolean> {
    const written = await this.call(
      LIVE_OUTPUT,
      { runHash: this.runHash(runId), outputKey: this.outputKey(runId) },
      {
        gate: this.gate,
        runId,
        attemptToken,
        output,
        ttlMs: this.retention.maxAgeMs,
        maxOutputBytes: this.retention.maxOutputBytesPerOwner ?? 0,
      },
    );
    return written === 1;
  }

  /**
   * The current attempt's k6 started (`started`: when, and the scenarios' expected time)
   * or reported its progress; false when `attemptToken` no longer holds the run.
   */
  async setK6Progress(
    runId: string,
    attemptToken: string,
    update: K6ProgressUpdate,
  ): Promise<boolean> {
    const written = await this.call(
      K6_PROGRESS,
      { runHash: this.runHash(runId) },
      {
        attemptToken,
        k6StartedAt: update.started?.at ?? "",
        expectedMs: update.started?.expectedMs ?? "",
        progress: update.progress ? JSON.stringify(update.progress) : "",
      },
    );
    return written === 1;
  }

  /**
   * Renews `lease.holder`'s lease on runs its calls still wait on, until `now +
   * lease.leaseMs`: DECIDE supersedes none of them meanwhile (decision 41).
   */
  async holdWaited(runIds: string[], lease: WaitLease, now = Date.now()): Promise<void> {
    if (!runIds.length) return;
    const pipeline = this.redis.pipeline();
    for (const runId of runIds) {
      pipeline.zadd(this.waitedKey(runId), now + lease.leaseMs, lease.holder);
      pipeline.pexpire(this.waitedKey(runId), lease.leaseMs);
    }
    const replies = (await pipeline.exec()) ?? [];
    const failed = replies.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }

  /** Ends `holder`'s lease on a run: none of its calls waits on it any longer. */
  async releaseWaited(runId: string, holder: string): Promise<void> {
    await this.redis.zrem(this.waitedKey(runId), holder);
  }

  async markDelivered(runId: string): Promise<void> {
    await this.redis.hset(this.runHash(runId), "delivered", "1");
  }

  async setSlackThreads(runId: string, threads: SlackThread[]): Promise<void> {
    await this.redis.hset(this.runHash(runId), "slackThreads", JSON.stringify(threads));
  }

  async getOutput(runId: string): Promise<string | null> {
    return this.redis.get(this.outputKey(runId));
  }

  /**
   * Drops a canary's runs beyond the retention count or age with what they alone keep
   * (DROP_RUN: inputs, output, run key, their use of a script), the output of runs beyond the
   * newest `maxOutputsPerCanary` (the byte budget: that many x OUTPUT_MAX_BYTES), and
   * canaries with no run within the retention age (their index expires with their last run).
   * Outputs are looked for only among the `OUTPUT_PRUNE_WINDOW` runs just past the budget,
   * the ones that crossed it since the last prune, not in the whole history: that re-check
   * was 360 of a verdict's 540 Redis commands at 200 runs per canary. An output missed
   * there (prunes that failed) goes when its run's record does.
   */
  async prune(namespace: string, name: string, now = Date.now()): Promise<number> {
    const zset = this.canaryRuns(namespace, name);
    const { maxAgeMs, maxRunsPerCanary, maxOutputsPerCanary } = this.retention;
    const [tooOld, tooMany, outputless] = await Promise.all([
      this.redis.zrangebyscore(zset, 0, now - maxAgeMs),
      this.redis.zrange(zset, 0, -(maxRunsPerCanary + 1)),
      this.redis.zrange(
        zset,
        -(maxOutputsPerCanary + OUTPUT_PRUNE_WINDOW),
        -(maxOutputsPerCanary + 1),
      ),
    ]);
    await this.redis
      .multi()
      .pexpire(zset, maxAgeMs)
      .zremrangebyscore(this.canaries, 0, now - maxAgeMs)
      .exec();
    const doomed = [...new Set([...tooOld, ...tooMany])];
    const doomedSet = new Set(doomed);
    // Each script checks its run is settled: a run in flight is never touched (callers are
    // waiting on it, and its output is live).
    await callLuaMany(
      this.redis,
      DROP_OUTPUT,
      outputless
        .filter((id) => !doomedSet.has(id))
        .map((id) => ({
          keys: { runHash: this.runHash(id), outputKey: this.outputKey(id) },
          args: { gate: this.gate, runId: id },
        })),
    );
    const dropped = await callLuaMany(
      this.redis,
      DROP_RUN,
      doomed.map((id) => ({
        keys: {
          runHash: this.runHash(id),
          outputKey: this.outputKey(id),
          inputsKey: this.inputsKey(id),
          specKey: this.specKey(id),
          canaryRuns: zset,
        },
        args: { gate: this.gate, runId: id },
      })),
    );
    return dropped.filter((reply) => reply === 1).length;
  }
}

/** The record a script wrote and returned: always a whole run. */
function writtenRecord(flat: string[]): RunRecord {
  const record = toRecord(pairs(flat));
  if (!record) throw new Error("a run script returned a record without its identity");
  return record;
}

/** HGETALL's flat [field, value, ...] reply (as a script returns it) as an object. */
function pairs(flat: string[]): Record<string, string> {
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i] as string] = flat[i + 1] as string;
  return hash;
}

function numberOrNull(text: string | undefined): number | null {
  return text ? Number(text) : null;
}

function parseJson<T>(text: string | undefined, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** One HMGET reply: a value per field asked for, null where the hash has none. */
type FieldValues = (string | null)[];

/** A run's hash as a record; null when it is not one (a field of its identity missing). */
function toSummary(hash: Record<string, string>): RunSummary | null {
  const identity = runIdentitySchema.safeParse(hash);
  if (!hash.id || !identity.success) return null;
  const figures = runFiguresSchema.safeParse(parseJson<unknown>(hash.figures, null));
  return {
    ...identity.data,
    id: hash.id,
    status: runStatuses.find((status) => status === hash.status) ?? "queued",
    verdict: (hash.verdict as RunSummary["verdict"]) ?? null,
    outcome: (hash.outcome as RunSummary["outcome"]) ?? null,
    enqueuedAt: Number(hash.enqueuedAt ?? 0),
    finishedAt: numberOrNull(hash.finishedAt),
    result: figures.success ? figures.data : null,
  };
}

function toRecord(hash: Record<string, string>): RunRecord | null {
  const identity = runIdentitySchema.safeParse(hash);
  if (!hash.id || !identity.success) return null;
  const parsedResult = runResultSchema.safeParse(parseJson<unknown>(hash.result, null));
  return {
    ...identity.data,
    id: hash.id,
    status: runStatuses.find((status) => status === hash.status) ?? "queued",
    attempt: Number(hash.attempt ?? 0),
    worker: hash.worker ?? null,
    enqueuedAt: Number(hash.enqueuedAt ?? 0),
    startedAt: numberOrNull(hash.startedAt),
    finishedAt: numberOrNull(hash.finishedAt),
    delivered: hash.delivered === "1",
    verdict: (hash.verdict as RunRecord["verdict"]) ?? null,
    outcome: (hash.outcome as RunRecord["outcome"]) ?? null,
    reason: hash.reason ?? null,
    result: parsedResult.success ? parsedResult.data : null,
    slackChannels: parseJson<string[]>(hash.slackChannels, []),
    warnings: parseJson<string[]>(hash.warnings, []),
    slackThreads: parseJson<SlackThread[]>(hash.slackThreads, []),
    cloudUrl: hash.cloudUrl || null,
    priority: numberOrNull(hash.priority),
    owner: hash.owner || ownerOf(identity.data.namespace),
    supersededBy: hash.supersededBy || null,
    supersededByCaller:
      hash.supersededByToken || hash.supersededByAddress
        ? { tokenName: hash.supersededByToken || null, address: hash.supersededByAddress || null }
        : null,
    cancelledBy: hash.cancelledBy || null,
    k6StartedAt: numberOrNull(hash.k6StartedAt),
    expectedMs: numberOrNull(hash.expectedMs),
    k6Progress: k6ProgressSchema.safeParse(parseJson<unknown>(hash.k6Progress, null)).data ?? null,
  };
}
