import type { Queue } from "bullmq";

/** Jobs of the k6-runs queue by BullMQ state (`waiting`, `prioritized`, `completed`...). */
export type QueueJobs = Record<string, number>;

/**
 * Every state BullMQ counts, in one Redis script (LLEN and ZCARD of its lists and sets).
 * Read by `/metrics` (k6gate_queue_jobs) and `/queue/depth` (what the autoscaler reads).
 */
export function readQueueJobs(queue: Queue): Promise<QueueJobs> {
  return queue.getJobCounts();
}

/**
 * The states of a run that still needs a worker slot (docs/decisions.md, "Workers scale
 * with the queue"):
 * - `waiting`: the `wait` list (runs queued before fair sharing gave them a priority);
 * - `prioritized`: the sorted set every run with a priority waits in (all new runs);
 * - `delayed`: a run its owner's cap (MAX_RUNS_PER_OWNER) put back for a moment,
 *   or an attempt waiting for its retry;
 * - `active`: running. Counted so that busy workers are kept, not scaled away.
 */
export const RUN_STATES = ["waiting", "prioritized", "delayed", "active"] as const;

export interface QueueDepth {
  /** Runs waiting for a worker slot or running: desired workers = ceil(runs / WORKER_CONCURRENCY). */
  runs: number;
  /** Of those, the ones not running. */
  queued: number;
  running: number;
  /** Each counted state on its own. */
  jobs: Record<(typeof RUN_STATES)[number], number>;
}

export function queueDepthOf(counts: QueueJobs): QueueDepth {
  const jobs = Object.fromEntries(
    RUN_STATES.map((state) => [state, counts[state] ?? 0]),
  ) as QueueDepth["jobs"];
  const runs = RUN_STATES.reduce((sum, state) => sum + jobs[state], 0);
  return { runs, queued: runs - jobs.active, running: jobs.active, jobs };
}
