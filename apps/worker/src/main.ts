import { assertRedisRequiresAuth, createLogger } from "@k6-gate/shared";
import { buildWorker } from "./build";
import { loadWorkerConfig } from "./config";

// Entry point: config, the built worker, signals.
const config = loadWorkerConfig();
const logger = createLogger("k6-gate-worker", config.LOG_LEVEL);
// Any k6 script could write into a Redis that takes commands without a password.
await assertRedisRequiresAuth(config).catch((error: Error) => {
  logger.fatal(error.message);
  process.exit(1);
});
const worker = await buildWorker(config, logger);
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
