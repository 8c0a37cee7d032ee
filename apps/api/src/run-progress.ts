import { progressOf, type RunK6Progress, type RunRecord, type RunStore } from "@k6-gate/shared";
import type { RunProgress } from "./respond";

/** How long the canary's last judged run took: what the next one is expected to take. */
export async function expectedRunMs(store: RunStore, run: RunRecord): Promise<number | null> {
  const previous = (await store.summaries(run.namespace, run.name, 10)).find(
    (r) => r.result && r.id !== run.id,
  );
  return previous?.result?.durationMs ?? null;
}

/**
 * A running run's k6 progress (elapsed, expected, VUs, iterations); null when it is not
 * running. The expected time is the script's, else the canary's last run time.
 */
export async function k6RunProgress(
  store: RunStore,
  run: RunRecord,
  now = Date.now(),
): Promise<RunK6Progress | null> {
  if (run.status !== "running") return null;
  const previousMs = run.expectedMs === null ? await expectedRunMs(store, run) : null;
  return progressOf(run, now, previousMs);
}

/**
 * Where a run without a verdict is (respond.ts RunProgress); `position` from the queue
 * estimate, `k6` from k6RunProgress (its expected time is reused).
 */
export async function runProgress(
  store: RunStore,
  run: RunRecord,
  position: number | null,
  now: number,
  k6: RunK6Progress | null,
): Promise<RunProgress> {
  return {
    state: run.status,
    elapsed: Math.max(0, now - run.enqueuedAt),
    expected: k6 ? k6.expectedMs : await expectedRunMs(store, run),
    position: run.status === "queued" ? position : null,
    progress: k6,
  };
}
