import { createServer } from "node:http";
import type { Registry } from "prom-client";
import type { Logger } from "@k6-gate/shared";

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` for Prometheus. A port already taken (several workers on one
 * host, as in the demo) costs this worker its metrics, never its runs.
 */
export async function serveMetrics(
  registry: Registry,
  port: number,
  logger: Logger,
): Promise<MetricsServer | undefined> {
  if (port === 0) return undefined;
  const server = createServer((req, res) => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") {
      res.writeHead(404).end("not found");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (error: unknown) => {
        logger.warn({ err: error }, "metrics not collected");
        res.writeHead(500).end("metrics not collected");
      },
    );
  });
  const listening = await new Promise<boolean>((resolve) => {
    server.once("error", (error) => {
      logger.warn({ err: error.message, port }, "worker metrics server not started");
      resolve(false);
    });
    server.listen(port, () => resolve(true));
  });
  if (!listening) return undefined;
  logger.info({ port }, "worker metrics listening");
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Prometheus keeps its connection open; do not wait for it to go idle.
        server.closeAllConnections();
      }),
  };
}
