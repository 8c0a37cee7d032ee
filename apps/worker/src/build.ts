import { existsSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { Queue } from "bullmq";
import {
  checkRedisAtStart,
  RUN_QUEUE,
  RunDetailsStore,
  retentionPolicyOf,
  RunStore,
  startReconciler,
  sweepIntervalOf,
  workerConnection,
  type Logger,
  type RedisClient,
} from "@k6-gate/shared";
import { concurrencyOf, RUNS_PER_CORE } from "./concurrency";
import {
  KILL_GRACE_MS,
  METRICS_MAX_CANARIES,
  METRICS_MAX_NAMESPACES,
  type WorkerConfig,
} from "./config";
import { sharedCpuSampler } from "./k6/cpu-sampler";
import { removeDeadRunDirs } from "./k6/run-dirs";
import { kubernetesSecretsFor } from "./kubernetes-access";
import { serveMetrics } from "./metrics-server";
import { createProcessor } from "./processor";
import { k6RunnerFor } from "./runner-choice";
import { untilLanded } from "./until-landed";
import { recordingInputs } from "./record-inputs";
import { createRunMetrics } from "./run-metrics";
import { RunStops } from "./run-stops";
import { createRunWorker, type RunWorker } from "./run-worker";
import { noSecrets } from "./secrets";
import { slackNotifierFor } from "./slack/slack-notifier";

export interface BuiltWorker {
  runWorker: RunWorker;
  workerName: string;
  /** Starts taking jobs. */
  start(): Promise<void>;
  /**
   * Stops taking jobs, lets running k6 finish within SHUTDOWN_GRACE, then hands its jobs
   * back; bounded, idempotent. `handBack()` cuts the grace short (a second signal).
   */
  stop(): Promise<void>;
}

/**
 * How often a running attempt checks that its run is still its own (superseded or cancelled
 * runs stop within this even if the stop message was lost) and renews its namespace slot.
 */
const HEARTBEAT_MS = 1000;
/** How long a stopping worker with no job left lets BullMQ close before it exits anyway. */
const IDLE_CLOSE_MS = 5000;

/**
 * Resolves once no job has run here for `ms`. Then BullMQ's close has nothing left to wait
 * for but Redis, which may be gone (an uninstall removes it with the workers): it gets this
 * moment, not the whole grace.
 */
async function idleFor(runWorker: RunWorker, ms: number): Promise<"timeout"> {
  for (;;) {
    await runWorker.idle();
    await new Promise((resolve) => setTimeout(resolve, ms).unref());
    if (runWorker.activeJobs() === 0) return "timeout";
  }
}

/**
 * Parts an API in the same process already has (the all-in-one process): its subscribed
 * connection and its queue. The API closes them, and its reconciler is the process's one.
 */
export interface FromApi {
  subscriber: RedisClient;
  queue: Queue;
}

/** Everything a worker runs on, built one way for main.ts, the all-in-one process and tests. */
export async function buildWorker(
  config: WorkerConfig,
  logger: Logger,
  fromApi?: FromApi,
): Promise<BuiltWorker> {
  for (const notice of config.envNotices ?? []) logger.warn(notice);
  // Any k6 script could write into a Redis that takes commands without a password.
  await checkRedisAtStart(config);
  const workerName = `${hostname()}-${process.pid}`;
  const connection = workerConnection(config.redis);
  const store = new RunStore(connection, config.QUEUE_PREFIX, retentionPolicyOf(config));
  // k6 dies with its worker wherever setpriv exists (the image has it); there is no reason
  // to want an orphaned k6 running on, so this is not a setting.
  const pdeathsig = existsSync("/usr/bin/setpriv");
  // Runs of a worker that died here (same pod) left their scripts on disk.
  const removed = await removeDeadRunDirs(tmpdir());
  if (removed.length) logger.warn({ removed }, "removed run directories of dead workers");

  const runMetrics = createRunMetrics({
    maxNamespaces: METRICS_MAX_NAMESPACES,
    maxCanaries: METRICS_MAX_CANARIES,
  });
  const metricsServer = await serveMetrics(runMetrics.registry, config.WORKER_METRICS_PORT, logger);
  const kubernetesSecrets = kubernetesSecretsFor(config);
  const slack = await slackNotifierFor(config, store, logger);

  // Its own connection: a subscribed connection takes no other command.
  const subscriber = fromApi?.subscriber ?? connection.duplicate();
  if (!fromApi) {
    subscriber.on("error", (error) => logger.warn({ err: error }, "redis subscriber error"));
  }
  const stops = new RunStops(subscriber, store, logger, {
    heartbeatMs: HEARTBEAT_MS,
    leaseMs: config.LOCK_DURATION,
  });

  const runner = await k6RunnerFor(config, logger);
  const concurrency = await concurrencyOf(config.WORKER_CONCURRENCY, runner?.kind);
  const runWorker = createRunWorker({
    config,
    connection,
    concurrency: concurrency.runs,
    store,
    stops,
    workerName,
    logger,
    notifier: slack,
    onFinished: (record) => runMetrics.observe(record),
    discardRun: runner?.discard,
    // What a run was given is kept for its page as k6 starts (record-inputs.ts).
    processRun: recordingInputs(
      createProcessor({
        config,
        pdeathsig,
        runner,
        // Several k6 at once share the worker's CPUs: each run is judged by them all.
        loadSampler: concurrency.runs > 1 && !runner ? sharedCpuSampler(process.pid) : undefined,
        resolveSecrets: kubernetesSecrets ?? noSecrets,
        // Read like a verdict is written: retried while Redis refuses, never skipped.
        history: (run, limit) =>
          untilLanded(() => store.summaries(run.namespace, run.name, limit), {
            onRetry: (error, delayMs) =>
              logger.error(
                { runId: run.runId, err: error, retryInMs: delayMs },
                "baseline not read; retrying",
              ),
          }),
      }),
      new RunDetailsStore(connection, config.QUEUE_PREFIX, config.HISTORY_MAX_AGE),
      logger,
    ),
  });
  const queue = fromApi?.queue ?? new Queue(RUN_QUEUE, { connection, prefix: config.QUEUE_PREFIX });
  let stopReconciler: () => Promise<void> = async () => {};

  let stopping: Promise<void> | undefined;
  return {
    runWorker,
    workerName,
    async start() {
      if (config.MAX_CONCURRENT_RUNS) await queue.setGlobalConcurrency(config.MAX_CONCURRENT_RUNS);
      // Before the first job: a run ended while this worker runs it must reach it.
      await stops.start();
      if (!fromApi) {
        stopReconciler = startReconciler({
          redis: connection,
          store,
          queue,
          logger,
          prefix: config.QUEUE_PREFIX,
          intervalMs: sweepIntervalOf(config),
        });
      }
      void runWorker.worker.run();
      logger.info(
        {
          workerName,
          runner: config.K6_RUNNER,
          concurrency: concurrency.runs,
          concurrencyFrom: concurrency.from,
          cpus: concurrency.cpus,
          cpusFrom: concurrency.cpusFrom,
          // What auto chose and why: RUNS_PER_CORE light runs per CPU it may use.
          ...(concurrency.from === "auto" && { runsPerCore: RUNS_PER_CORE }),
          maxConcurrentRuns: config.MAX_CONCURRENT_RUNS ?? null,
          maxRunsPerOwner: config.MAX_RUNS_PER_OWNER ?? null,
          pdeathsig,
          slack: slack !== undefined,
          kubernetesSecrets: kubernetesSecrets !== undefined,
        },
        "worker started",
      );
    },
    stop() {
      stopping ??= (async () => {
        const graceTimer = setTimeout(() => runWorker.handBack(), config.SHUTDOWN_GRACE);
        const hardLimit = config.SHUTDOWN_GRACE + KILL_GRACE_MS + 5000;
        const bound = new Promise<"timeout">((resolve) =>
          setTimeout(resolve, hardLimit, "timeout").unref(),
        );
        const closed = await Promise.race([
          runWorker.worker.close().then(() => "closed" as const),
          idleFor(runWorker, IDLE_CLOSE_MS),
          bound,
        ]);
        clearTimeout(graceTimer);
        const borrowed = fromApi !== undefined;
        if (closed === "timeout") {
          // Redis is gone or hung: a quit would wait for it. Nothing of ours is left running.
          logger.error("worker did not close in time; exiting anyway");
          await metricsServer?.close();
          connection.disconnect();
          if (!borrowed) subscriber.disconnect();
          return;
        }
        await Promise.allSettled([
          stopReconciler(),
          borrowed ? undefined : queue.close(),
          metricsServer?.close(),
        ]);
        await Promise.allSettled([connection.quit(), borrowed ? undefined : subscriber.quit()]);
      })();
      return stopping;
    },
  };
}
