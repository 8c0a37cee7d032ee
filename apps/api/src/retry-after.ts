import type { RunRecord, RunStore } from "@k6-gate/shared";

/**
 * Seconds until a run in flight is likely done, from the canary's last finished run;
 * short and bounded so Flagger's retries reattach soon after the verdict exists.
 */
export async function retryAfterSeconds(
  store: RunStore,
  run: RunRecord,
  now = Date.now(),
): Promise<number> {
  const previous = (await store.list(run.namespace, run.name, 10)).find(
    (r) => r.result && r.id !== run.id,
  );
  const expectedMs = previous?.result?.durationMs;
  if (expectedMs === undefined || run.startedAt === null) return 2;
  const remainingMs = run.startedAt + expectedMs - now;
  return Math.min(30, Math.max(1, Math.ceil(remainingMs / 1000)));
}

/** Used while no run has finished yet to estimate from. */
const UNKNOWN_RUN_MS = 30_000;

/**
 * Seconds until the backlog likely has room: a queued run leaves the backlog when a running
 * one ends, so the wait is the soonest expected end of a running run, from recent run times.
 */
export async function backlogRetryAfter(store: RunStore, now = Date.now()): Promise<number> {
  const [durations, running] = await Promise.all([store.recentRunDurations(), store.runningRuns()]);
  const expectedMs = durations.length
    ? durations.reduce((a, b) => a + b, 0) / durations.length
    : UNKNOWN_RUN_MS;
  const ends = running.map((run) => (run.startedAt ?? now) + expectedMs - now);
  const soonestMs = ends.length ? Math.min(...ends) : expectedMs;
  return Math.min(300, Math.max(1, Math.ceil(soonestMs / 1000)));
}
