import type { RunK6Progress, RunRecord, RunStore } from "@k6-gate/shared";

/**
 * Seconds until a run in flight is likely done: a running run's expected time left (the
 * script's time, else the canary's last run time; run-progress.ts), a queued run's
 * estimated start; short and bounded so Flagger's retries reattach soon after the verdict
 * exists.
 */
export function retryAfterSeconds(
  run: RunRecord,
  progress: RunK6Progress | null,
  now = Date.now(),
  queue: QueueEstimate | null = null,
): number {
  if (run.status === "queued" && queue?.estimatedStartAt != null) {
    return Math.min(30, Math.max(1, Math.ceil((queue.estimatedStartAt - now) / 1000)));
  }
  if (progress?.expectedMs == null) return 2;
  const remainingMs = progress.expectedMs - progress.elapsedMs;
  return Math.min(30, Math.max(1, Math.ceil(remainingMs / 1000)));
}

/** Used while no run has finished yet to estimate from. */
const UNKNOWN_RUN_MS = 30_000;

/** How long a run takes: the mean of the last runs' durations (any canary). */
function expectedRunMs(durations: number[]): number {
  return durations.length
    ? durations.reduce((a, b) => a + b, 0) / durations.length
    : UNKNOWN_RUN_MS;
}

/** A queued run's place (1 = next) and when it will likely start (null: nothing runs now). */
export interface QueueEstimate {
  position: number;
  /** Runs that will be taken before it. */
  ahead: number;
  /** Runs waiting in all. */
  queued: number;
  /** Epoch ms; null when no run is running to estimate from (no worker busy). */
  estimatedStartAt: number | null;
}

/**
 * When the run `ahead` places back starts: each slot busy now frees when its run's
 * expected time is up, and each run ahead takes the next free slot for an expected run
 * time. Assumes the slots in use now are all there are, and takes no namespace cap into
 * account: an estimate for people, never a promise.
 */
export function estimateStartAt(
  ahead: number,
  runningSince: number[],
  expectedMs: number,
  now: number,
): number | null {
  if (runningSince.length === 0) return null;
  const frees = runningSince.map((since) => Math.max(now, since + expectedMs));
  let start = now;
  for (let taken = 0; taken <= ahead; taken++) {
    frees.sort((a, b) => a - b);
    start = frees.shift() ?? now;
    frees.push(start + expectedMs);
  }
  return Math.round(start);
}

/** A queued run's place and estimated start; null when it is not queued. */
export async function queueEstimate(
  store: RunStore,
  runId: string,
  now = Date.now(),
): Promise<QueueEstimate | null> {
  const [standing, durations, running] = await Promise.all([
    store.queueStanding(runId),
    store.recentRunDurations(),
    store.runningRuns(),
  ]);
  if (!standing) return null;
  const since = running.map((run) => run.startedAt ?? now);
  return {
    position: standing.ahead + 1,
    ahead: standing.ahead,
    queued: standing.queued,
    estimatedStartAt: estimateStartAt(standing.ahead, since, expectedRunMs(durations), now),
  };
}

/**
 * Seconds until the backlog likely has room: a queued run leaves the backlog when a running
 * one ends, so the wait is the soonest expected end of a running run, from recent run times.
 */
export async function backlogRetryAfter(store: RunStore, now = Date.now()): Promise<number> {
  const [durations, running] = await Promise.all([store.recentRunDurations(), store.runningRuns()]);
  const expectedMs = expectedRunMs(durations);
  const ends = running.map((run) => (run.startedAt ?? now) + expectedMs - now);
  const soonestMs = ends.length ? Math.min(...ends) : expectedMs;
  return Math.min(300, Math.max(1, Math.ceil(soonestMs / 1000)));
}
