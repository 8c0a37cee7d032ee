import { configOrExit, createLogger, exitOnStartFailure } from "@k6-gate/shared";
import { buildApi } from "../../api/src/build";
import { serveApi } from "../../api/src/serve";
import { buildWorker } from "../../worker/src/build";
import { loadAllInOneConfig } from "./config";

// Entry point for small installs: the API and a worker in one Node process (one runtime's
// memory instead of two), built as apart; the worker shares the API's subscribed connection,
// its queue and its reconciler. Signals as apart: the first stops taking calls and jobs and
// lets running k6 finish within the worker's SHUTDOWN_GRACE; a second hands them back now.
const config = configOrExit("k6-gate", () => loadAllInOneConfig());
const apiLogger = createLogger("k6-gate-api", config.api.LOG_LEVEL);
const workerLogger = createLogger("k6-gate-worker", config.worker.LOG_LEVEL);
const api = await buildApi(config.api, apiLogger).catch(exitOnStartFailure(apiLogger));
const worker = await buildWorker(config.worker, workerLogger, {
  subscriber: api.subscriber,
  queue: api.deps.queue,
}).catch(exitOnStartFailure(workerLogger));
const served = serveApi(api, config.api, apiLogger);
await worker.start();

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) {
      workerLogger.warn({ signal }, "second signal: handing running jobs back now");
      worker.runWorker.handBack();
      return;
    }
    stopping = true;
    apiLogger.info({ signal }, "api stopping");
    workerLogger.info(
      { signal, graceMs: config.worker.SHUTDOWN_GRACE },
      "worker stopping: no new jobs, running k6 may finish",
    );
    void (async () => {
      // Both bounded; the API's connections last: the worker shares two of them.
      await Promise.all([served.stopServing(), worker.stop()]);
      await api.close();
      apiLogger.info("api stopped");
      workerLogger.info("worker stopped");
      process.exit(0);
    })();
  });
}
