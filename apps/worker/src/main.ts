import { configOrExit, createLogger, exitOnStartFailure } from "@k6-gate/shared";
import { buildWorker } from "./build";
import { loadWorkerConfig } from "./config";

// Entry point: config, the worker from build.ts (the one the tests build too), signals.
// The first signal stops taking jobs and lets running k6 finish within SHUTDOWN_GRACE
// (stop() is bounded); a second hands running jobs back at once.
const config = configOrExit("k6-gate-worker", () => loadWorkerConfig());
const logger = createLogger("k6-gate-worker", config.LOG_LEVEL);
const worker = await buildWorker(config, logger).catch(exitOnStartFailure(logger));
await worker.start();

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) {
      // A second signal: stop waiting for running k6, hand the jobs back now.
      logger.warn({ signal }, "second signal: handing running jobs back now");
      worker.runWorker.handBack();
      return;
    }
    stopping = true;
    logger.info(
      { signal, graceMs: config.SHUTDOWN_GRACE },
      "worker stopping: no new jobs, running k6 may finish",
    );
    void worker.stop().then(() => {
      logger.info("worker stopped");
      process.exit(0);
    });
  });
}
