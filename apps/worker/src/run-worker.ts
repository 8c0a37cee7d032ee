import { type Job, UnrecoverableError, WaitingError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import {
  RUN_QUEUE,
  runJobSchema,
  type Logger,
  type RunJob,
  type RunRecord,
  type RunStore,
} from "@k6-gate/shared";
import type { WorkerConfig } from "./config";
import { setupFailure } from "./k6/verdict";
import type { TailBuffer } from "./k6/tail-buffer";
import { parseRunJob, type RunProcessor } from "./processor";
import { type RunNotifier, silentNotifier } from "./notifier";

export interface RunWorkerDeps {
  config: Pick<WorkerConfig, "QUEUE_PREFIX" | "WORKER_CONCURRENCY" | "LOCK_DURATION">;
  connection: Redis;
  store: RunStore;
  processRun: RunProcessor;
  logger: Logger;
  notifier?: RunNotifier;
  workerName: string;
  /** Called once per run this worker recorded the verdict of (run metrics). */
  onFinished?: (record: RunRecord) => void;
}

export interface RunWorker {
  worker: Worker;
  /** Stop running k6 now and give its jobs back to the queue for another worker. */
  handBack(): void;
  /** Throttled live output for the dashboard while k6 runs. */
  onOutput(runId: string, output: TailBuffer): void;
}

const OUTPUT_FLUSH_MS = 1000;

/**
 * BullMQ wiring around the processor: marks runs started, records verdicts, hands jobs
 * back when the worker leaves, and turns a job's final failure into a failed verdict so
 * no caller waits forever.
 */
export function createRunWorker(deps: RunWorkerDeps): RunWorker {
  const { store, logger } = deps;
  const notifier = deps.notifier ?? silentNotifier;
  const pendingOutput = new Map<string, NodeJS.Timeout>();
  let handingBack = false;

  const flushOutput = (runId: string, output: TailBuffer) => {
    if (pendingOutput.has(runId)) return;
    pendingOutput.set(
      runId,
      setTimeout(() => {
        pendingOutput.delete(runId);
        store
          .setOutput(runId, output.text())
          .catch((error: unknown) => logger.warn({ runId, err: error }, "live output not saved"));
      }, OUTPUT_FLUSH_MS),
    );
  };
  const stopFlushing = (runId: string) => {
    clearTimeout(pendingOutput.get(runId));
    pendingOutput.delete(runId);
  };

  const process = async (job: Job, token: string | undefined, signal: AbortSignal | undefined) => {
    const runId = job.id as string;
    const run = parseRunJob(job.data);
    const started = await store.markStarted(runId, job.attemptsStarted, deps.workerName);
    if (started !== "started") {
      // "finished": judged already (taken up again after a crash). "missing": its record
      // expired or was lost with Redis's data; no caller can receive a verdict for it.
      logger.info({ runId, state: started }, "run not started: already judged or no record");
      return { runId, skipped: true };
    }
    logger.info(
      { runId, namespace: run.namespace, name: run.name, attempt: job.attemptsStarted },
      "run started",
    );
    void store.get(runId).then(
      (record) => notifier.runStarted(run, record),
      (error: unknown) =>
        logger.warn({ runId, err: error }, "run record not read for notification"),
    );
    const execution = await deps.processRun(job, signal ?? new AbortController().signal);
    stopFlushing(runId);
    if (execution.interrupted && handingBack) {
      // The worker is leaving, not the run failing: give the job back untouched.
      await store.setOutput(
        runId,
        `${execution.output}\n[k6-gate: worker ${deps.workerName} stopped; run handed back to the queue]\n`,
      );
      await store.requeue(runId);
      await job.moveToWait(token);
      logger.warn({ runId }, "run handed back to the queue");
      throw new WaitingError();
    }
    await finish(run, execution.result, execution.output);
    return { runId, verdict: execution.result.verdict };
  };

  const finish = async (run: RunJob, result: Parameters<RunStore["finish"]>[2], output: string) => {
    // One connection keeps their order: the output is stored before the verdict wakes callers.
    const [, first] = await Promise.all([
      store.setOutput(run.runId, output),
      store.finish(run.runId, run.runKey, result),
    ]);
    logger.info(
      {
        runId: run.runId,
        verdict: result.verdict,
        outcome: result.outcome,
        durationMs: result.durationMs,
      },
      "run finished",
    );
    // Retention is housekeeping: it must not delay this worker's next job.
    store
      .prune(run.namespace, run.name)
      .catch((error: unknown) =>
        logger.warn({ runId: run.runId, err: error }, "history not pruned"),
      );
    if (!first) return;
    const record = await store.get(run.runId);
    if (record) deps.onFinished?.(record);
    void notifier.runFinished(run, record, result, output);
  };

  const worker = new Worker(RUN_QUEUE, process, {
    connection: deps.connection,
    prefix: deps.config.QUEUE_PREFIX,
    concurrency: deps.config.WORKER_CONCURRENCY,
    lockDuration: deps.config.LOCK_DURATION,
    stalledInterval: deps.config.LOCK_DURATION,
    // A run interrupted by a crash is taken up again; twice is bad luck, three times a pattern.
    maxStalledCount: 2,
    autorun: false,
    name: deps.workerName,
  });

  worker.on("failed", (job, error) => {
    if (!job?.id) return;
    const final =
      error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    logger.error({ runId: job.id, err: error, final }, "run job failed");
    if (!final) return;
    const runId = job.id;
    void (async () => {
      const record = await store.get(runId);
      if (!record || record.status === "finished") return;
      const first = await store.finish(
        runId,
        record.runKey,
        setupFailure(`k6-gate could not run this check: ${error.message}`),
      );
      const finished = first ? await store.get(runId) : null;
      if (finished) deps.onFinished?.(finished);
      // Channels told the run started hear how it ended (unless the job data is what failed).
      const run = runJobSchema.safeParse(job.data);
      if (finished?.result && run.success) {
        void notifier.runFinished(run.data, finished, finished.result, "");
      }
    })().catch((err: unknown) => logger.error({ runId, err }, "could not record failed run"));
  });
  worker.on("error", (error) => logger.error({ err: error }, "worker error"));

  return {
    worker,
    handBack() {
      handingBack = true;
      worker.cancelAllJobs("worker shutting down");
    },
    onOutput: flushOutput,
  };
}
