import type { Redis } from "ioredis";
import { runResultSchema, type RunRecord, type RunResult, type SlackThread } from "./run";
import { DECIDE, FINISH, REQUEUE, START } from "./run-store.lua";

export type Decision =
  | { action: "attach" | "deliver" | "recent_failure" | "created"; runId: string }
  | { action: "busy" };

export interface DecideInput {
  runKey: string;
  namespace: string;
  name: string;
  checksum: string;
  phase: string;
  slackChannels: string[];
  minFailureDelayMs: number;
  maxQueueDepth: number;
  now: number;
}

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

export interface RetentionPolicy {
  maxRunsPerCanary: number;
  maxAgeMs: number;
}

interface ScriptCommands {
  k6gateDecide(...args: (string | number)[]): Promise<[string, string]>;
  k6gateStart(...args: (string | number)[]): Promise<string>;
  k6gateRequeue(...args: (string | number)[]): Promise<number>;
  k6gateFinish(...args: (string | number)[]): Promise<number>;
}

/**
 * k6-gate's own records of runs in Redis: which run a key has in flight, each run's
 * status and verdict, and the per-canary history. Kept apart from BullMQ's jobs, which
 * are pruned; these are what the dashboard and the four-step rule read.
 */
export class RunStore {
  private readonly redis: Redis & ScriptCommands;
  readonly finishedChannel: string;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly retention: RetentionPolicy,
  ) {
    this.redis = defineScripts(redis);
    this.finishedChannel = `${prefix}:gate:finished`;
  }

  private runHash(runId: string): string {
    return `${this.prefix}:gate:run:${runId}`;
  }
  private keyHash(runKey: string): string {
    return `${this.prefix}:gate:key:${runKey}`;
  }
  private canaryRuns(namespace: string, name: string): string {
    return `${this.prefix}:gate:canary:${namespace}/${name}`;
  }
  private get canaries(): string {
    return `${this.prefix}:gate:canaries`;
  }
  private get queued(): string {
    return `${this.prefix}:gate:queued`;
  }
  private get running(): string {
    return `${this.prefix}:gate:running`;
  }
  private outputKey(runId: string): string {
    return `${this.prefix}:gate:output:${runId}`;
  }

  async decide(input: DecideInput): Promise<Decision> {
    const [action, runId] = await this.redis.k6gateDecide(
      this.keyHash(input.runKey),
      this.queued,
      this.canaryRuns(input.namespace, input.name),
      this.canaries,
      input.runKey,
      input.now,
      input.minFailureDelayMs,
      input.maxQueueDepth,
      this.runHash(""),
      input.namespace,
      input.name,
      input.checksum,
      input.phase,
      JSON.stringify(input.slackChannels),
      `${input.namespace}/${input.name}`,
      this.retention.maxAgeMs,
    );
    if (action === "busy") return { action };
    if (
      action === "attach" ||
      action === "deliver" ||
      action === "recent_failure" ||
      action === "created"
    ) {
      return { action, runId };
    }
    throw new Error(`unexpected decision ${action}`);
  }

  async get(runId: string): Promise<RunRecord | null> {
    const hash = await this.redis.hgetall(this.runHash(runId));
    return hash.id ? toRecord(hash) : null;
  }

  async queuedCount(): Promise<number> {
    return this.redis.scard(this.queued);
  }

  /**
   * Queued and running runs per canary ("namespace/name"), read from the two in-flight
   * sets: the cost follows the runs in flight, not the history.
   */
  async inFlight(): Promise<Map<string, InFlightCounts>> {
    const [queued, running] = await Promise.all([
      this.redis.smembers(this.queued),
      this.redis.smembers(this.running),
    ]);
    const ids = [...new Set([...queued, ...running])];
    const counts = new Map<string, InFlightCounts>();
    if (ids.length === 0) return counts;
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hmget(this.runHash(id), "namespace", "name", "status");
    for (const [, row] of (await pipeline.exec()) ?? []) {
      // The hash is the truth: a set member whose run expired or finished is not counted.
      const [namespace, name, status] = (row ?? []) as (string | null)[];
      if (!namespace || !name || (status !== "queued" && status !== "running")) continue;
      const canary = `${namespace}/${name}`;
      const entry = counts.get(canary) ?? { queued: 0, running: 0 };
      entry[status]++;
      counts.set(canary, entry);
    }
    return counts;
  }

  /** Runs of one canary, newest first. */
  async list(namespace: string, name: string, limit = 50): Promise<RunRecord[]> {
    const ids = await this.redis.zrevrange(this.canaryRuns(namespace, name), 0, limit - 1);
    const records = await Promise.all(ids.map((id) => this.get(id)));
    return records.filter((record): record is RunRecord => record !== null);
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

  /** "started", "finished" (already judged: do not run again) or "missing". */
  async markStarted(
    runId: string,
    attempt: number,
    worker: string,
    now = Date.now(),
  ): Promise<string> {
    return this.redis.k6gateStart(
      this.runHash(runId),
      this.queued,
      this.running,
      now,
      attempt,
      worker,
      runId,
    );
  }

  async requeue(runId: string): Promise<void> {
    await this.redis.k6gateRequeue(this.runHash(runId), this.queued, this.running, runId);
  }

  /** Records the verdict once and wakes every long-poll waiting for it. */
  async finish(
    runId: string,
    runKey: string,
    result: RunResult,
    now = Date.now(),
  ): Promise<boolean> {
    const written = await this.redis.k6gateFinish(
      this.runHash(runId),
      this.keyHash(runKey),
      this.queued,
      this.running,
      now,
      result.verdict,
      result.outcome,
      result.reason,
      JSON.stringify(result),
      result.cloudUrl ?? "",
      runId,
      this.finishedChannel,
    );
    return written === 1;
  }

  async markDelivered(runId: string): Promise<void> {
    await this.redis.hset(this.runHash(runId), "delivered", "1");
  }

  async setSlackThreads(runId: string, threads: SlackThread[]): Promise<void> {
    await this.redis.hset(this.runHash(runId), "slackThreads", JSON.stringify(threads));
  }

  async setOutput(runId: string, output: string): Promise<void> {
    await this.redis.set(this.outputKey(runId), output, "PX", this.retention.maxAgeMs);
  }

  async getOutput(runId: string): Promise<string | null> {
    return this.redis.get(this.outputKey(runId));
  }

  /**
   * Drops a canary's runs beyond the retention count or age, and canaries with no run
   * within the retention age (their index expires with their last run).
   */
  async prune(namespace: string, name: string, now = Date.now()): Promise<number> {
    const zset = this.canaryRuns(namespace, name);
    const tooOld = await this.redis.zrangebyscore(zset, 0, now - this.retention.maxAgeMs);
    const tooMany = await this.redis.zrange(zset, 0, -(this.retention.maxRunsPerCanary + 1));
    await this.redis
      .multi()
      .pexpire(zset, this.retention.maxAgeMs)
      .zremrangebyscore(this.canaries, 0, now - this.retention.maxAgeMs)
      .exec();
    const candidates = [...new Set([...tooOld, ...tooMany])];
    if (candidates.length === 0) return 0;
    // Never drop a run still in flight: callers are waiting on it.
    const statuses = await candidates
      .reduce((pipeline, id) => pipeline.hget(this.runHash(id), "status"), this.redis.pipeline())
      .exec();
    const doomed = candidates.filter((_, i) => {
      const status = statuses?.[i]?.[1];
      return status !== "queued" && status !== "running";
    });
    if (doomed.length === 0) return 0;
    const pipeline = this.redis.multi().zrem(zset, ...doomed);
    for (const id of doomed) pipeline.del(this.runHash(id), this.outputKey(id));
    await pipeline.exec();
    return doomed.length;
  }
}

function defineScripts(redis: Redis): Redis & ScriptCommands {
  const scripts = {
    k6gateDecide: [DECIDE, 4],
    k6gateStart: [START, 3],
    k6gateRequeue: [REQUEUE, 3],
    k6gateFinish: [FINISH, 4],
  } as const;
  for (const [name, [lua, numberOfKeys]] of Object.entries(scripts)) {
    if (!(name in redis)) redis.defineCommand(name, { lua, numberOfKeys });
  }
  return redis as Redis & ScriptCommands;
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

function toRecord(hash: Record<string, string>): RunRecord {
  const parsedResult = runResultSchema.safeParse(parseJson<unknown>(hash.result, null));
  return {
    id: hash.id ?? "",
    runKey: hash.runKey ?? "",
    namespace: hash.namespace ?? "",
    name: hash.name ?? "",
    checksum: hash.checksum ?? "",
    phase: hash.phase ?? "",
    status: (hash.status ?? "queued") as RunRecord["status"],
    attempt: Number(hash.attempt ?? 0),
    enqueuedAt: Number(hash.enqueuedAt ?? 0),
    startedAt: numberOrNull(hash.startedAt),
    finishedAt: numberOrNull(hash.finishedAt),
    delivered: hash.delivered === "1",
    verdict: (hash.verdict as RunRecord["verdict"]) ?? null,
    outcome: (hash.outcome as RunRecord["outcome"]) ?? null,
    reason: hash.reason ?? null,
    result: parsedResult.success ? parsedResult.data : null,
    slackChannels: parseJson<string[]>(hash.slackChannels, []),
    slackThreads: parseJson<SlackThread[]>(hash.slackThreads, []),
    cloudUrl: hash.cloudUrl || null,
  };
}
