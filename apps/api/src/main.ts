import { configOrExit, createLogger, exitOnStartFailure } from "@k6-gate/shared";
import { buildApi } from "./build";
import { loadApiConfig } from "./config";
import { serveApi } from "./serve";

// Entry point: config, the built API, the HTTP server, signals.
const config = configOrExit("k6-gate-api", () => loadApiConfig());
const logger = createLogger("k6-gate-api", config.LOG_LEVEL);
const api = await buildApi(config, logger).catch(exitOnStartFailure(logger));
const served = serveApi(api, config, logger);

let closing: Promise<void> | undefined;
function shutdown(signal: string): Promise<void> {
  closing ??= (async () => {
    logger.info({ signal }, "api stopping");
    await served.stopServing();
    await api.close();
    logger.info("api stopped");
  })();
  return closing;
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    void shutdown(signal).then(() => process.exit(0));
  });
}
