import type { RedisClient } from "./redis";
import { randomUUID } from "node:crypto";
import type { Queue } from "bullmq";
import type { Logger } from "./logger";
import { enqueueRun } from "./queue";
import { failedResult } from "./run";
import { StoreKeys } from "./store/keys";
import type { RunStore } from "./store/run-store";
import type { InFlightRun } from "./store/types";

export interface ReconcilerDeps {
  redis: RedisClient;
  store: RunStore;
  queue: Queue;
  logger: Logger;
  prefix: string;
  intervalMs: number;
}

export interface ReconcileReport {
  requeued: number;
  ended: number;
  forgotten: number;
}

/**
 * Keeps the invariant of docs/architecture.md (section 3): every run counted as queued or running has a live job, or
 * ends. A crash between deciding a run and adding its job (API killed), a job lost with
 * Redis data, or a verdict that never landed would otherwise leave a run counted forever
 * (and the backlog full). One pass:
 * - a member of the in-flight sets whose run is gone or judged is dropped from the set;
 * - a queued run with no job gets its job again, from the spec stored with the run;
 * - a run whose job is gone, completed or failed for good is ended with the reason.
 * Adding a job under an id that exists is a no-op in BullMQ, so a pass racing the API's
 * own enqueue is harmless.
 */
export async function reconcileOnce(
  deps: Pick<ReconcilerDeps, "store" | "queue" | "logger">,
): Promise<ReconcileReport> {
  const report: ReconcileReport = { requeued: 0, ended: 0, forgotten: 0 };
  for (const run of await deps.store.inFlightRuns()) {
    if (run.status !== run.set) {
      // Judged, expired, or moved to the other set between the two reads.
      if (run.status === null || run.status === "finished") {
        await deps.store.forgetInFlight(run);
        report.forgotten++;
      }
      continue;
    }
    const state = await deps.queue.getJobState(run.id);
    if (state === "unknown" && run.set === "queued") {
      const [job, record] = await Promise.all([deps.store.job(run.id), deps.store.get(run.id)]);
      if (job) {
        await enqueueRun(deps.queue, job, record?.priority);
        await deps.store.place(run.id);
        deps.logger.warn({ runId: run.id }, "queued run had no job: queued it again");
        report.requeued++;
        continue;
      }
    }
    const reason = await lostReason(deps.queue, run, state);
    if (!reason) continue;
    const ended = await deps.store.finish(run.id, {
      result: failedResult("error", reason),
      attemptToken: "",
    });
    if (ended.state === "recorded") {
      deps.logger.warn({ runId: run.id, reason }, "run ended: no live job behind it");
      report.ended++;
    }
  }
  return report;
}

/** Why a run with this job state can never get a verdict from a worker; null when it can. */
async function lostReason(
  queue: Queue,
  run: InFlightRun,
  state: Awaited<ReturnType<Queue["getJobState"]>>,
): Promise<string | null> {
  switch (state) {
    case "unknown":
      return `k6-gate lost this run: its job is gone from the queue (was ${run.set})`;
    case "completed":
      return "k6-gate lost this run's verdict: its job completed but the verdict was never recorded";
    case "failed": {
      const job = await queue.getJob(run.id);
      return `k6-gate could not run this check: ${job?.failedReason ?? "its job failed"}`;
    }
    default:
      return null;
  }
}

/**
 * Runs `reconcileOnce` every `intervalMs` in whichever process holds a short Redis lock,
 * so several APIs and workers share the work without repeating it. Returns a stop function
 * (idempotent) that waits for a pass in progress.
 */
export function startReconciler(deps: ReconcilerDeps): () => Promise<void> {
  const lockKey = new StoreKeys(deps.prefix).single("reconcileLock");
  const owner = randomUUID();
  let stopped = false;
  let pass: Promise<void> = Promise.resolve();
  const tick = () => {
    pass = (async () => {
      const locked = await deps.redis.set(lockKey, owner, "PX", deps.intervalMs, "NX");
      if (locked !== "OK") return;
      const report = await reconcileOnce(deps);
      if (report.requeued || report.ended || report.forgotten) {
        deps.logger.info(report, "reconciled runs in flight");
      }
    })().catch((error: unknown) => deps.logger.warn({ err: error }, "reconcile pass failed"));
  };
  const timer = setInterval(tick, deps.intervalMs);
  timer.unref();
  tick();
  return async () => {
    if (stopped) return pass;
    stopped = true;
    clearInterval(timer);
    return pass;
  };
}
