import {
  FINISH,
  HEARTBEAT,
  K6_PROGRESS,
  LIVE_OUTPUT,
  PLACE,
  RELEASE,
  REQUEUE,
  START,
} from "../commands/attempt-commands";
import { DECIDE } from "../commands/decide";
import { CANCEL } from "../commands/ending-commands";
import { callLua, type LuaCommand } from "../commands/lua-command";
import { identityOf, failedResult, type SlackThread } from "../run";
import { figuresOf } from "../run-figures";
import type { RedisClient } from "../redis";
import { StoreKeys } from "./keys";
import {
  cancelOutcome,
  pipelineReplies,
  decision,
  finishOutcome,
  heartbeatOutcome,
  startOutcome,
  wrote,
} from "./replies";
import { pruneCanary, type RetentionPolicy } from "./retention";
import { RunHistory } from "./run-history";
import {
  ownerOf,
  scriptDigestOf,
  type CancelInput,
  type CancelOutcome,
  type DecideInput,
  type Decision,
  type FinishInput,
  type FinishOutcome,
  type HeartbeatOutcome,
  type InFlightRun,
  type K6ProgressUpdate,
  type StartInput,
  type StartOutcome,
  type WaitLease,
} from "./types";

/** An owner's slot lasts this long without a heartbeat (a worker passes its LOCK_DURATION). */
const DEFAULT_LEASE_MS = 20_000;

/**
 * k6-gate's own records of runs in Redis: which run a key has in flight, each run's
 * status and verdict, and the per-canary history. Kept apart from BullMQ's jobs, which
 * are pruned; these are what the dashboard and the four-step rule read. The writes are
 * here, each one script (commands/*.ts) so that it holds across API replicas and workers;
 * the reads in RunHistory; the key layout in StoreKeys.
 */
export class RunStore extends RunHistory {
  readonly finishedChannel: string;
  /** Where a run ended while running is announced (`{runId, reason}`): its worker stops k6. */
  readonly stopChannel: string;

  constructor(
    redis: RedisClient,
    prefix: string,
    private readonly retention: RetentionPolicy,
  ) {
    super(redis, new StoreKeys(prefix));
    this.finishedChannel = this.keys.single("finishedChannel");
    this.stopChannel = this.keys.single("stopChannel");
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
    const ownerKeys = this.keys.ownerKeys(owner);
    const reason = `superseded by revision ${job.checksum.slice(0, 12) || "(no checksum)"}`;
    const reply = await this.call(
      DECIDE,
      {
        keyHash: this.keys.of("runKey", job.runKey),
        queuedSet: this.keys.single("queued"),
        runningSet: this.keys.single("running"),
        canaryRuns: this.keys.canary("canaryRuns", job.namespace, job.name),
        canaries: this.keys.single("canaries"),
        canaryInFlight: this.keys.canary("canaryInFlight", job.namespace, job.name),
        ownerQueued: ownerKeys.queued,
        ownerSlots: ownerKeys.slots,
        ownerCanaries: ownerKeys.canaries,
        ownerScripts: ownerKeys.scripts,
        queueOrder: this.keys.single("queueOrder"),
        bullPrioritized: this.keys.bullPrioritized,
        bullCounter: this.keys.bullCounter,
      },
      {
        prefix: this.keys.prefix,
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
        scriptDigest: scriptDigestOf(job.script),
        maxCanaries: input.quotas?.maxCanaries ?? 0,
        maxScripts: input.quotas?.maxScripts ?? 0,
        waiter: input.waiter?.holder ?? "",
        waitLeaseMs: input.waiter?.leaseMs ?? 0,
      },
    );
    return decision(DECIDE, reply);
  }

  /** The keys of every command that rewrites queued runs' places in BullMQ's prioritized set. */
  private placingKeys(runId: string) {
    return {
      runHash: this.keys.of("run", runId),
      queueOrder: this.keys.single("queueOrder"),
      bullPrioritized: this.keys.bullPrioritized,
    };
  }

  /** The in-flight sets, which a run enters and leaves. */
  private get inFlightSets() {
    return { queuedSet: this.keys.single("queued"), runningSet: this.keys.single("running") };
  }

  async start(runId: string, input: StartInput): Promise<StartOutcome> {
    const reply = await this.call(
      START,
      { ...this.placingKeys(runId), ...this.inFlightSets },
      {
        prefix: this.keys.prefix,
        runId,
        now: input.now ?? Date.now(),
        worker: input.worker,
        attemptToken: input.attemptToken,
        maxRunsPerOwner: input.maxRunsPerOwner ?? 0,
        leaseMs: input.leaseMs ?? DEFAULT_LEASE_MS,
      },
    );
    return startOutcome(START, reply);
  }

  /** Hands a run back to the queue; false when `attemptToken` no longer holds it. */
  async requeue(runId: string, attemptToken: string, now = Date.now()): Promise<boolean> {
    const reply = await this.call(
      REQUEUE,
      { ...this.placingKeys(runId), ...this.inFlightSets },
      { prefix: this.keys.prefix, runId, attemptToken, now },
    );
    return wrote(REQUEUE, reply);
  }

  /**
   * Writes a queued run's place into BullMQ's prioritized set: call it after adding a run's
   * job, which BullMQ places by the priority it was given, at the back of that priority.
   */
  async place(runId: string, now = Date.now()): Promise<void> {
    const reply = await this.call(PLACE, this.placingKeys(runId), {
      prefix: this.keys.prefix,
      runId,
      now,
    });
    wrote(PLACE, reply);
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
    const reply = await this.call(
      HEARTBEAT,
      { runHash: this.keys.of("run", runId) },
      { prefix: this.keys.prefix, runId, attemptToken, now, leaseMs },
    );
    return heartbeatOutcome(HEARTBEAT, reply);
  }

  /** The attempt's k6 is gone: its owner's slot is free (unless another attempt holds the run). */
  async releaseSlot(runId: string, attemptToken: string, now = Date.now()): Promise<void> {
    const reply = await this.call(RELEASE, this.placingKeys(runId), {
      prefix: this.keys.prefix,
      runId,
      attemptToken,
      now,
    });
    wrote(RELEASE, reply);
  }

  /**
   * Ends a queued or running run as `cancelled` (a failed verdict carrying the reason and
   * who asked), wakes its callers and tells its worker to stop k6.
   */
  async cancel(runId: string, input: CancelInput): Promise<CancelOutcome> {
    const reason = `cancelled by ${input.by}: ${input.reason}`;
    const reply = await this.call(
      CANCEL,
      { ...this.placingKeys(runId), specKey: this.keys.of("spec", runId), ...this.inFlightSets },
      {
        prefix: this.keys.prefix,
        runId,
        now: input.now ?? Date.now(),
        reason,
        result: JSON.stringify(failedResult("cancelled", reason)),
        cancelledBy: input.by,
      },
    );
    return cancelOutcome(CANCEL, reply);
  }

  /** Records the verdict once, from the current attempt, and wakes every long-poll. */
  async finish(runId: string, input: FinishInput): Promise<FinishOutcome> {
    const { result } = input;
    const reply = await this.call(
      FINISH,
      {
        ...this.placingKeys(runId),
        ...this.inFlightSets,
        outputKey: this.keys.of("output", runId),
        specKey: this.keys.of("spec", runId),
        recentDurations: this.keys.single("recentDurations"),
      },
      {
        prefix: this.keys.prefix,
        runId,
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
      },
    );
    return finishOutcome(FINISH, reply);
  }

  /** Live output of a running run; false when `attemptToken` no longer holds it. */
  async setLiveOutput(runId: string, attemptToken: string, output: string): Promise<boolean> {
    const reply = await this.call(
      LIVE_OUTPUT,
      { runHash: this.keys.of("run", runId), outputKey: this.keys.of("output", runId) },
      {
        prefix: this.keys.prefix,
        runId,
        attemptToken,
        output,
        ttlMs: this.retention.maxAgeMs,
        maxOutputBytes: this.retention.maxOutputBytesPerOwner ?? 0,
      },
    );
    return wrote(LIVE_OUTPUT, reply);
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
    const reply = await this.call(
      K6_PROGRESS,
      { runHash: this.keys.of("run", runId) },
      {
        attemptToken,
        k6StartedAt: update.started?.at ?? "",
        expectedMs: update.started?.expectedMs ?? "",
        progress: update.progress ? JSON.stringify(update.progress) : "",
      },
    );
    return wrote(K6_PROGRESS, reply);
  }

  /**
   * Renews `lease.holder`'s lease on runs its calls still wait on, until `now +
   * lease.leaseMs`: DECIDE supersedes none of them meanwhile (decision 41).
   */
  async holdWaited(runIds: string[], lease: WaitLease, now = Date.now()): Promise<void> {
    if (!runIds.length) return;
    const pipeline = this.redis.pipeline();
    for (const runId of runIds) {
      pipeline.zadd(this.keys.of("waited", runId), now + lease.leaseMs, lease.holder);
      pipeline.pexpire(this.keys.of("waited", runId), lease.leaseMs);
    }
    await pipelineReplies(pipeline);
  }

  /** Ends `holder`'s lease on a run: none of its calls waits on it any longer. */
  async releaseWaited(runId: string, holder: string): Promise<void> {
    await this.redis.zrem(this.keys.of("waited", runId), holder);
  }

  async markDelivered(runId: string): Promise<void> {
    await this.redis.hset(this.keys.of("run", runId), "delivered", "1");
  }

  async setSlackThreads(runId: string, threads: SlackThread[]): Promise<void> {
    await this.redis.hset(this.keys.of("run", runId), "slackThreads", JSON.stringify(threads));
  }

  /** Drops set members whose run is gone or judged: they are no work (the reconciler). */
  async forgetInFlight(run: InFlightRun): Promise<void> {
    await this.redis
      .multi()
      .srem(this.keys.single(run.set), run.id)
      .zrem(this.keys.single("queueOrder"), run.id)
      .exec();
  }

  /** Retention for one canary (retention.ts); returns the runs dropped. */
  async prune(namespace: string, name: string, now = Date.now()): Promise<number> {
    return pruneCanary(this.redis, this.keys, this.retention, { namespace, name }, now);
  }
}
