import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { Queue } from "bullmq";
import { createLogger, RUN_QUEUE, RunStore, workerConnection } from "@k6-gate/shared";
import { loadWorkerConfig } from "./config";
import { createProcessor } from "./processor";
import { createRunWorker } from "./run-worker";
import { serveMetrics } from "./metrics-server";
import { createRunMetrics } from "./run-metrics";
import { noSecrets } from "./secrets";
import { kubernetesSecretsFor } from "./kubernetes-secrets";
import { slackNotifierFor } from "./slack/slack-notifier";
import type { TailBuffer } from "./k6/tail-buffer";

// Entry point: config, connections, signals. Everything else is built from createRunWorker.
const config = loadWorkerConfig();
const logger = createLogger("k6-gate-worker", config.LOG_LEVEL);
const workerName = `${hostname()}-${process.pid}`;
const connection = workerConnection(config.REDIS_URL);
const store = new RunStore(connection, config.QUEUE_PREFIX, {
  maxRunsPerCanary: config.HISTORY_MAX_RUNS_PER_CANARY,
  maxAgeMs: config.HISTORY_MAX_AGE,
});
const pdeathsig =
  config.K6_PDEATHSIG === "on" ||
  (config.K6_PDEATHSIG === "auto" && existsSync("/usr/bin/setpriv"));

const runMetrics = createRunMetrics();
const metricsServer = await serveMetrics(runMetrics.registry, config.WORKER_METRICS_PORT, logger);

const kubernetesSecrets = kubernetesSecretsFor(config);
const slack = slackNotifierFor(config, store, logger);

let forwardOutput: (runId: string, output: TailBuffer) => void = () => {};
const runWorker = createRunWorker({
  config,
  connection,
  store,
  workerName,
  logger,
  notifier: slack,
  onFinished: (record) => runMetrics.observe(record),
  processRun: createProcessor({
    config,
    pdeathsig,
    resolveSecrets: kubernetesSecrets ?? noSecrets,
    onOutput: (runId, output) => forwardOutput(runId, output),
  }),
});
forwardOutput = (runId, output) => runWorker.onOutput(runId, output);

const queue = new Queue(RUN_QUEUE, { connection, prefix: config.QUEUE_PREFIX });
if (config.MAX_CONCURRENT_RUNS) await queue.setGlobalConcurrency(config.MAX_CONCURRENT_RUNS);
void runWorker.worker.run();
logger.info(
  {
    workerName,
    concurrency: config.WORKER_CONCURRENCY,
    maxConcurrentRuns: config.MAX_CONCURRENT_RUNS ?? null,
    pdeathsig,
    slack: slack !== undefined,
    kubernetesSecrets: kubernetesSecrets !== undefined,
  },
  "worker started",
);

let closing: Promise<void> | undefined;
function shutdown(signal: string): Promise<void> {
  if (closing) {
    // A second signal: stop waiting for running k6, hand the jobs back now.
    logger.warn({ signal }, "second signal: handing running jobs back now");
    runWorker.handBack();
    return closing;
  }
  logger.info(
    { signal, graceMs: config.SHUTDOWN_GRACE },
    "worker stopping: no new jobs, running k6 may finish",
  );
  const graceTimer = setTimeout(() => runWorker.handBack(), config.SHUTDOWN_GRACE);
  const hardLimit = config.SHUTDOWN_GRACE + config.KILL_GRACE + 5000;
  closing = (async () => {
    const bound = new Promise<"timeout">((resolve) =>
      setTimeout(resolve, hardLimit, "timeout").unref(),
    );
    const closed = await Promise.race([
      runWorker.worker.close().then(() => "closed" as const),
      bound,
    ]);
    clearTimeout(graceTimer);
    if (closed === "timeout") logger.error("worker did not close in time; exiting anyway");
    await Promise.allSettled([queue.close(), connection.quit(), metricsServer?.close()]);
    logger.info("worker stopped");
  })();
  return closing;
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    void shutdown(signal).then(() => process.exit(0));
  });
}
