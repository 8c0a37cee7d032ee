import { z } from "zod";
import { callLuaMany } from "../commands/lua-command";
import { CANARY_SUMMARIES, SUMMARY_FIELDS } from "../commands/read-commands";
import { runJobSchema, type RunJob } from "../queue";
import type { RedisClient } from "../redis";
import { runResultSchema, runStatuses, type RunRecord } from "../run";
import { figuresOf, type RunSummary } from "../run-figures";
import type { StoreKeys } from "./keys";
import { toRecord, toSummary } from "./records";
import { pipelineReplies } from "./replies";
import type { Canary, InFlightCounts, InFlightRun, QueueStanding } from "./types";

/** One HMGET reply: a value per field asked for, null where the hash has none. */
const fieldValues = z.array(z.string().nullable());
type FieldValues = z.infer<typeof fieldValues>;
/** CANARY_SUMMARIES' reply: each run's HMGET. */
const canaryRuns = z.array(fieldValues);

function jsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * The reads of k6-gate's run records (RunStore adds the writes): a run, a canary's
 * history, the runs in flight, the canaries. Every key from StoreKeys.
 */
export class RunHistory {
  constructor(
    protected readonly redis: RedisClient,
    protected readonly keys: StoreKeys,
  ) {}

  async get(runId: string): Promise<RunRecord | null> {
    return toRecord(await this.redis.hgetall(this.keys.of("run", runId)));
  }

  /** Many runs in one round trip, in the order asked; missing ones are left out. */
  async getMany(runIds: string[]): Promise<RunRecord[]> {
    if (runIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of runIds) pipeline.hgetall(this.keys.of("run", id));
    return (await pipelineReplies(pipeline)).flatMap((hash) => {
      const record = toRecord(z.record(z.string(), z.string()).parse(hash ?? {}));
      return record ? [record] : [];
    });
  }

  /** The job data of a queued or running run (deleted once it is judged). */
  async job(runId: string): Promise<RunJob | null> {
    const text = await this.redis.get(this.keys.of("spec", runId));
    if (!text) return null;
    const parsed = runJobSchema.safeParse({ ...(JSON.parse(text) as object), runId });
    return parsed.success ? parsed.data : null;
  }

  async getOutput(runId: string): Promise<string | null> {
    return this.redis.get(this.keys.of("output", runId));
  }

  async queuedCount(): Promise<number> {
    return this.redis.scard(this.keys.single("queued"));
  }

  async runningRuns(): Promise<RunRecord[]> {
    const records = await this.getMany(await this.redis.smembers(this.keys.single("running")));
    return records.filter((run) => run.status === "running");
  }

  /** How long the last runs (any canary) took, newest first: what a wait is estimated from. */
  async recentRunDurations(): Promise<number[]> {
    return (await this.redis.lrange(this.keys.single("recentDurations"), 0, -1)).map(Number);
  }

  /** Every member of the in-flight sets with its run's status, for the reconciler. */
  async inFlightRuns(): Promise<InFlightRun[]> {
    const [queued, running] = await Promise.all([
      this.redis.smembers(this.keys.single("queued")),
      this.redis.smembers(this.keys.single("running")),
    ]);
    const members = [
      ...queued.map((id) => ({ id, set: "queued" as const })),
      ...running.map((id) => ({ id, set: "running" as const })),
    ];
    if (members.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const { id } of members) pipeline.hget(this.keys.of("run", id), "status");
    const statuses = await pipelineReplies(pipeline);
    const status = z.enum(runStatuses).nullable();
    return members.map((member, i) => ({ ...member, status: status.parse(statuses[i] ?? null) }));
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

  /** Where a queued run stands in the queue; null when it is not queued (any more). */
  async queueStanding(runId: string): Promise<QueueStanding | null> {
    const queueOrder = this.keys.single("queueOrder");
    const [rank, queued] = await pipelineReplies(
      this.redis.multi().zrank(queueOrder, runId).zcard(queueOrder),
    );
    if (typeof rank !== "number") return null;
    return { ahead: rank, queued: z.number().parse(queued) };
  }

  /** Runs of one canary, newest first. */
  async list(namespace: string, name: string, limit = 50): Promise<RunRecord[]> {
    return this.getMany(await this.newestRuns(namespace, name, limit));
  }

  private newestRuns(namespace: string, name: string, limit: number): Promise<string[]> {
    const runs = this.keys.canary("canaryRuns", namespace, name);
    return this.redis.zrevrange(runs, 0, limit - 1);
  }

  /**
   * Runs of one canary for lists, newest first: identity, state and figures only (a tenth
   * of a record's bytes). Runs recorded before figures were stored, or ended by an API
   * (superseded, cancelled), have theirs derived from the result in a second round trip.
   */
  async summaries(namespace: string, name: string, limit = 50): Promise<RunSummary[]> {
    const ids = await this.newestRuns(namespace, name, limit);
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hmget(this.keys.of("run", id), ...SUMMARY_FIELDS);
    const rows = (await pipelineReplies(pipeline)).map((values) => fieldValues.parse(values));
    return (await this.summariesFrom(rows)).flatMap((summary) => summary ?? []);
  }

  /**
   * `summaries` for many canaries in one round trip: a read script per canary
   * (CANARY_SUMMARIES), not a command per run. Each canary's runs newest first.
   */
  async summariesOfCanaries(
    canaries: { namespace: string; name: string }[],
    limit: number,
  ): Promise<RunSummary[][]> {
    const perCanary = (
      await callLuaMany(
        this.redis,
        CANARY_SUMMARIES,
        canaries.map(({ namespace, name }) => ({
          keys: { canaryRuns: this.keys.canary("canaryRuns", namespace, name) },
          args: { prefix: this.keys.prefix, limit },
        })),
      )
    ).map((runs) => canaryRuns.parse(runs));
    const all = await this.summariesFrom(perCanary.flat());
    let at = 0;
    return perCanary.map((runs) =>
      all.slice(at, (at += runs.length)).flatMap((summary) => summary ?? []),
    );
  }

  /** HMGET replies of SUMMARY_FIELDS as summaries, in their order (null: no run there). */
  private async summariesFrom(rows: FieldValues[]): Promise<(RunSummary | null)[]> {
    const hashes = rows.map((values) => {
      const hash: Record<string, string> = {};
      SUMMARY_FIELDS.forEach((field, i) => {
        const value = values[i];
        if (value != null) hash[field] = value;
      });
      return hash;
    });
    const unfigured = hashes.filter((hash) => hash.status === "finished" && !hash.figures);
    if (unfigured.length) {
      const pipeline = this.redis.pipeline();
      for (const hash of unfigured) pipeline.hget(this.keys.of("run", hash.id ?? ""), "result");
      const results = await pipelineReplies(pipeline);
      unfigured.forEach((hash, i) => {
        const result = results[i];
        if (typeof result !== "string") return;
        const parsed = runResultSchema.safeParse(jsonOrNull(result));
        if (parsed.success) hash.figures = JSON.stringify(figuresOf(parsed.data));
      });
    }
    return hashes.map(toSummary);
  }

  async canaryCount(): Promise<number> {
    return this.redis.zcard(this.keys.single("canaries"));
  }

  async listCanaries(limit = 200): Promise<Canary[]> {
    const flat = await this.redis.zrevrange(
      this.keys.single("canaries"),
      0,
      limit - 1,
      "WITHSCORES",
    );
    const result: Canary[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const [namespace = "", name = ""] = (flat[i] as string).split("/");
      result.push({ namespace, name, lastRunAt: Number(flat[i + 1]) });
    }
    return result;
  }
}
