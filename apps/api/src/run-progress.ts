import type { RunRecord, RunStore } from "@k6-gate/shared";
import type { RunProgress } from "./respond";

/** How long the canary's last judged run took: what the next one is expected to take. */
export async function expectedRunMs(store: RunStore, run: RunRecord): Promise<number | null> {
  const previous = (await store.list(run.namespace, run.name, 10)).find(
    (r) => r.result && r.id !== run.id,
  );
  return previous?.result?.durationMs ?? null;
}

/** Where a run without a verdict is (respond.ts RunProgress); `position` from the queue estimate. */
export async function runProgress(
  store: RunStore,
  run: RunRecord,
  position: number | null,
  now = Date.now(),
): Promise<RunProgress> {
  return {
    state: run.status,
    elapsed: Math.max(0, now - run.enqueuedAt),
    expected: await expectedRunMs(store, run),
    position: run.status === "queued" ? position : null,
  };
}
