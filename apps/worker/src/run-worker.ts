import type { RedisClient } from "@k6-gate/shared";
import { DelayedError, type Job, UnrecoverableError, WaitingError, Worker } from "bullmq";
import {
  failedResult,
  RUN_QUEUE,
  runJobSchema,
  sweepIntervalOf,
  type FinishInput,
  type FinishOutcome,
  type Logger,
  type RunJob,
  type RunRecord,
  type RunStore,
} from "@k6-gate/shared";
import type { WorkerConfig } from "./config";
import type { TailBuffer } from "./k6/tail-buffer";
import { parseRunJob, type RunProcessor } from "./processor";
import { type RunNotifier, silentNotifier } from "./notifier";
import { progressSaver } from "./progress-saver";
import type { RunStops } from "./run-stops";
import { untilLanded } from "./until-landed";

export interface RunWorkerDeps {
  config: Pick<WorkerConfig, "QUEUE_PREFIX" | "LOCK_DURATION" | "MAX_RUNS_PER_OWNER">;
  connection: RedisClient;
  /** k6 runs at once (WORKER_CONCURRENCY, `auto` resolved: concurrency.ts). */
  concurrency: number;
  store: RunStore;
  processRun: RunProcessor;
  logger: Logger;
  notifier?: RunNotifier;
  workerName: string;
  /** Tells running attempts that their run ended under them (superseded, cancelled). */
  stops: RunStops;
  /** Called once per run this worker recorded the verdict of (run metrics). */
  onFinished?: (record: RunRecord) => void;
  /** Removes a run's runner objects when no attempt will run it again (K6Runner.discard). */
  discardRun?: (runId: string) => Promise<unknown>;
}

export interface RunWorker {
  worker: Worker;
  /** Stop running k6 now and give its jobs back to the queue for another worker. */
  handBack(): void;
  /** Jobs being processed here now. */
  activeJobs(): number;
  /** Resolves once no job is being processed here (at once when none is). */
  idle(): Promise<void>;
}

const OUTPUT_FLUSH_MS = 1000;

/** Outcomes of runs ended while they ran, by the API (not judged here). */
const ENDED_EARLY = new Set(["superseded", "cancelled"]);

/**
 * How long a run whose owner is at MAX_RUNS_PER_OWNER waits before it is tried again:
 * 250 ms, doubling to 2 s, plus jitter, so an owner's burst does not spin.
 */
function deferDelayMs(tries: number): number {
  return Math.min(2000, 250 * 2 ** Math.min(Math.max(tries - 1, 0), 3)) + Math.random() * 250;
}

/**
 * BullMQ wiring around the processor: marks runs started under this attempt's lock token,
 * records verdicts (retried until they land, refused for a stale attempt), hands jobs back
 * when the worker leaves, and turns a job's final failure into a failed verdict so no
 * caller waits forever.
 */
export function createRunWorker(deps: RunWorkerDeps): RunWorker {
  const { store, logger } = deps;
  const notifier = deps.notifier ?? silentNotifier;
  const pendingOutput = new Map<string, NodeJS.Timeout>();
  let handingBack = false;

  /** Throttled live output for the dashboard while k6 runs, fenced like the verdict. */
  const flushOutput = (runId: string, attemptToken: string, output: TailBuffer) => {
    if (pendingOutput.has(runId)) return;
    pendingOutput.set(
      runId,
      setTimeout(() => {
        pendingOutput.delete(runId);
        store
          .setLiveOutput(runId, attemptToken, output.text())
          .catch((error: unknown) => logger.warn({ runId, err: error }, "live output not saved"));
      }, OUTPUT_FLUSH_MS),
    );
  };
  const stopFlushing = (runId: string) => {
    clearTimeout(pendingOutput.get(runId));
    pendingOutput.delete(runId);
  };

  /** A run no attempt will run again: what a former attempt left running goes. */
  const discard = async (runId: string) => {
    if (!deps.discardRun) return;
    try {
      await deps.discardRun(runId);
    } catch (error) {
      logger.warn({ runId, err: error }, "runner objects of a run not run again not removed");
    }
  };

  /** A verdict is the one write that must not be lost: retried until Redis takes it. */
  const recordVerdict = (runId: string, input: FinishInput): Promise<FinishOutcome> =>
    untilLanded(() => store.finish(runId, input), {
      onRetry: (error, delayMs) =>
        logger.error({ runId, err: error, retryInMs: delayMs }, "verdict not recorded; retrying"),
    });

  const processJob = async (
    job: Job,
    token: string | undefined,
    signal: AbortSignal | undefined,
  ) => {
    const runId = job.id as string;
    const run = parseRunJob(job.data);
    const attemptToken = token ?? `${deps.workerName}:${job.attemptsStarted}`;
    const started = await store.start(runId, {
      worker: deps.workerName,
      attemptToken,
      maxRunsPerOwner: deps.config.MAX_RUNS_PER_OWNER ?? 0,
      leaseMs: deps.config.LOCK_DURATION,
    });
    if (started.state === "deferred") {
      // Its owner already runs MAX_RUNS_PER_OWNER k6: back to the queue for a moment, with
      // its priority; other owners' runs are taken meanwhile.
      logger.debug({ runId, namespace: run.namespace }, "run deferred: owner at its cap");
      await job.moveToDelayed(Date.now() + deferDelayMs(job.attemptsStarted), token);
      throw new DelayedError();
    }
    if (started.state !== "started") {
      // "finished": judged already (taken up again after a crash), or superseded or
      // cancelled while queued. "missing": its record expired or was lost with Redis's
      // data; no caller can receive a verdict for it.
      logger.info({ runId, state: started.state }, "run not started: already judged or no record");
      await discard(runId);
      return { runId, skipped: true };
    }
    logger.info(
      { runId, namespace: run.namespace, name: run.name, attempt: started.run.attempt },
      "run started",
    );
    void notifier.runStarted(run, started.run);
    // Set when the run ends under this attempt (superseded, cancelled), or another attempt
    // holds it (`takenOver`: it goes on there): k6 is stopped.
    let stoppedBecause: string | undefined;
    let takenOver = false;
    const unwatch = deps.stops.watch(runId, attemptToken, (reason, via, lost) => {
      stoppedBecause = reason || "the run ended while k6 ran";
      takenOver = lost;
      logger.info({ runId, reason, via }, "run ended under its attempt: stopping k6");
      worker.cancelJob(runId, stoppedBecause);
    });
    try {
      const execution = await deps.processRun(run, {
        signal: signal ?? new AbortController().signal,
        onOutput: (output) => flushOutput(runId, attemptToken, output),
        progress: progressSaver(store, logger, runId, attemptToken, OUTPUT_FLUSH_MS),
        goesOnElsewhere: () => takenOver || (handingBack && stoppedBecause === undefined),
      });
      stopFlushing(runId);
      if (execution.interrupted && handingBack && stoppedBecause === undefined) {
        // The worker is leaving, not the run failing: give the job back untouched.
        await store.setLiveOutput(
          runId,
          attemptToken,
          `${execution.output}\n[k6-gate: worker ${deps.workerName} stopped; run handed back to the queue]\n`,
        );
        await store.requeue(runId, attemptToken);
        await job.moveToWait(token);
        // BullMQ put it at the back of its priority: it takes its old place again.
        await store.place(runId);
        logger.warn({ runId }, "run handed back to the queue");
        throw new WaitingError();
      }
      const output =
        stoppedBecause === undefined
          ? execution.output
          : `${execution.output}\n[k6-gate: k6 stopped: ${stoppedBecause}]\n`;
      // For a run that ended under it, the verdict is already written: this stores the output.
      const finished = await recordVerdict(runId, {
        result: execution.result,
        attemptToken,
        output,
      });
      afterVerdict(run, finished, output);
      return { runId, verdict: finished.state === "missing" ? null : finished.run.verdict };
    } finally {
      unwatch();
      stopFlushing(runId);
      // Whatever ended this attempt (verdict, hand-back, stale, error), its start is settled.
      notifier.forget(runId);
      // k6 is gone: the owner's slot is free for its next run.
      store
        .releaseSlot(runId, attemptToken)
        .catch((error: unknown) => logger.warn({ runId, err: error }, "owner slot not released"));
    }
  };

  const afterVerdict = (run: RunJob, finished: FinishOutcome, output: string) => {
    if (finished.state === "stale") {
      // Another worker took this run up after this one lost its lock (frozen, partitioned):
      // only the current attempt's verdict and output count.
      logger.warn(
        { runId: run.runId, attempt: finished.run.attempt, holder: finished.run.worker },
        "stale attempt: its verdict and output were dropped",
      );
      return;
    }
    const endedEarly = finished.state === "already" && ENDED_EARLY.has(finished.run.outcome ?? "");
    if (finished.state !== "recorded" && !endedEarly) return;
    const { run: record } = finished;
    logger.info(
      {
        runId: run.runId,
        verdict: record.verdict,
        outcome: record.outcome,
        // The verdict's words (failed thresholds, a refused secret read with its HTTP status):
        // names and figures only, never a secret's value (kubernetes-secrets.ts).
        reason: record.reason,
        durationMs: record.result?.durationMs,
      },
      "run finished",
    );
    // Retention is housekeeping: it must not delay this worker's next job.
    store
      .prune(run.namespace, run.name)
      .catch((error: unknown) =>
        logger.warn({ runId: run.runId, err: error }, "history not pruned"),
      );
    // Counted by the API process that ended it early; a verdict recorded here, here.
    if (!endedEarly) deps.onFinished?.(record);
    if (record.result) void notifier.runFinished(run, record, record.result, output);
  };

  // Jobs being processed, so a stopping worker knows when none is left to wait for.
  let active = 0;
  const becameIdle: (() => void)[] = [];
  const tracked: typeof processJob = async (job, token, signal) => {
    active += 1;
    try {
      return await processJob(job, token, signal);
    } finally {
      active -= 1;
      if (active === 0) for (const resolve of becameIdle.splice(0)) resolve();
    }
  };

  const worker = new Worker(RUN_QUEUE, tracked, {
    connection: deps.connection,
    prefix: deps.config.QUEUE_PREFIX,
    concurrency: deps.concurrency,
    lockDuration: deps.config.LOCK_DURATION,
    stalledInterval: sweepIntervalOf(deps.config),
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
    // No attempt of this job will run again: end the run, whichever attempt it was in.
    void recordVerdict(runId, {
      result: failedResult("setup_failed", `k6-gate could not run this check: ${error.message}`),
      attemptToken: "",
    }).then(async (finished) => {
      // Channels told the run started hear how it ended (unless the job data is what failed).
      const run = runJobSchema.safeParse(job.data);
      if (run.success) afterVerdict(run.data, finished, "");
      await discard(runId);
    });
  });
  worker.on("error", (error) => logger.error({ err: error }, "worker error"));

  return {
    worker,
    handBack() {
      handingBack = true;
      worker.cancelAllJobs("worker shutting down");
    },
    activeJobs: () => active,
    idle() {
      return active === 0 ? Promise.resolve() : new Promise((resolve) => becameIdle.push(resolve));
    },
  };
}
