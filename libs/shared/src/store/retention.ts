import { callLuaMany } from "../commands/lua-command";
import { DROP_OUTPUT, DROP_RUN } from "../commands/ending-commands";
import type { RedisClient } from "../redis";
import type { StoreKeys } from "./keys";

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

/**
 * Runs per canary whose k6 output is kept: the newest 20 cover a canary's recent revisions,
 * and with MAX_OUTPUT_BYTES_PER_OWNER bounding an owner's bytes, a setting of its own only
 * moved a bound nobody watched (issue 32).
 */
export const OUTPUTS_KEPT_PER_CANARY = 20;

/** The retention settings both processes read (config.ts), as RunStore takes them. */
export function retentionPolicyOf(config: {
  HISTORY_MAX_RUNS_PER_CANARY: number;
  HISTORY_MAX_AGE: number;
  MAX_OUTPUT_BYTES_PER_OWNER: number;
}): RetentionPolicy {
  return {
    maxRunsPerCanary: config.HISTORY_MAX_RUNS_PER_CANARY,
    maxAgeMs: config.HISTORY_MAX_AGE,
    maxOutputsPerCanary: OUTPUTS_KEPT_PER_CANARY,
    maxOutputBytesPerOwner: config.MAX_OUTPUT_BYTES_PER_OWNER,
  };
}

/** Runs just past a canary's output budget whose output a prune drops (see `pruneCanary`). */
const OUTPUT_PRUNE_WINDOW = 20;

/**
 * Drops a canary's runs beyond the retention count or age with what they alone keep
 * (DROP_RUN: inputs, output, run key, their use of a script), the output of runs beyond the
 * newest `maxOutputsPerCanary` (the byte budget: that many x OUTPUT_MAX_BYTES), and
 * canaries with no run within the retention age (their index expires with their last run).
 * Outputs are looked for only among the `OUTPUT_PRUNE_WINDOW` runs just past the budget,
 * the ones that crossed it since the last prune, not in the whole history: that re-check
 * was 360 of a verdict's 540 Redis commands at 200 runs per canary. An output missed
 * there (prunes that failed) goes when its run's record does. Returns the runs dropped.
 */
export async function pruneCanary(
  redis: RedisClient,
  keys: StoreKeys,
  retention: RetentionPolicy,
  canary: { namespace: string; name: string },
  now: number,
): Promise<number> {
  const zset = keys.canary("canaryRuns", canary.namespace, canary.name);
  const { maxAgeMs, maxRunsPerCanary, maxOutputsPerCanary } = retention;
  const [tooOld, tooMany, outputless] = await Promise.all([
    redis.zrangebyscore(zset, 0, now - maxAgeMs),
    redis.zrange(zset, 0, -(maxRunsPerCanary + 1)),
    redis.zrange(zset, -(maxOutputsPerCanary + OUTPUT_PRUNE_WINDOW), -(maxOutputsPerCanary + 1)),
  ]);
  await redis
    .multi()
    .pexpire(zset, maxAgeMs)
    .zremrangebyscore(keys.single("canaries"), 0, now - maxAgeMs)
    .exec();
  const doomed = [...new Set([...tooOld, ...tooMany])];
  const doomedSet = new Set(doomed);
  // Each script checks its run is settled: a run in flight is never touched (callers are
  // waiting on it, and its output is live).
  await callLuaMany(
    redis,
    DROP_OUTPUT,
    outputless
      .filter((id) => !doomedSet.has(id))
      .map((id) => ({
        keys: { runHash: keys.of("run", id), outputKey: keys.of("output", id) },
        args: { prefix: keys.prefix, runId: id },
      })),
  );
  const dropped = await callLuaMany(
    redis,
    DROP_RUN,
    doomed.map((id) => ({
      keys: {
        runHash: keys.of("run", id),
        outputKey: keys.of("output", id),
        inputsKey: keys.of("inputs", id),
        specKey: keys.of("spec", id),
        canaryRuns: zset,
      },
      args: { prefix: keys.prefix, runId: id },
    })),
  );
  return dropped.filter((reply) => reply === 1).length;
}
