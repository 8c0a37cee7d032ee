import { serve } from "@hono/node-server";
import { configOrExit, createLogger, exitOnStartFailure } from "@k6-gate/shared";
import { buildApi } from "./build";
import { loadApiConfig } from "./config";

// Entry point: config, the built API, the HTTP server, signals.
const config = configOrExit("k6-gate-api", () => loadApiConfig());
const logger = createLogger("k6-gate-api", config.LOG_LEVEL);
const api = await buildApi(config, logger).catch(exitOnStartFailure(logger));
const server = serve({ fetch: api.app.fetch, port: config.PORT, hostname: config.HOST }, (info) =>
  logger.info({ port: info.port }, "api listening"),
);

let closing: Promise<void> | undefined;
function shutdown(signal: string): Promise<void> {
  closing ??= (async () => {
    logger.info({ signal }, "api stopping");
    // Stop accepting; waiting calls get 503 now and Flagger's retry reattaches elsewhere.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    api.releaseWaiters();
    const bound = new Promise<void>((resolve) =>
      setTimeout(resolve, config.SHUTDOWN_GRACE).unref(),
    );
    await Promise.race([closed, bound]);
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
