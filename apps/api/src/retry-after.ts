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

/** Seconds until the backlog likely has room: queued runs spread over recent run times. */
export function backlogRetryAfter(queued: number, recentRunMs: number[], capacity: number): number {
  const averageMs = recentRunMs.length
    ? recentRunMs.reduce((a, b) => a + b, 0) / recentRunMs.length
    : 30_000;
  return Math.min(300, Math.max(5, Math.ceil((queued * averageMs) / Math.max(1, capacity) / 1000)));
}
