import { serve } from "@hono/node-server";
import type { Logger } from "@k6-gate/shared";
import type { BuiltApi } from "./build";
import type { ApiConfig } from "./config";

export interface ServedApi {
  /**
   * Stops accepting calls and ends every long-poll (503: Flagger's retry reattaches
   * elsewhere), waiting at most SHUTDOWN_GRACE for open calls; idempotent. The API's
   * connections stay open: `BuiltApi.close()` after it.
   */
  stopServing(): Promise<void>;
}

/** The built API on its HTTP port, for main.ts and the all-in-one process. */
export function serveApi(api: BuiltApi, config: ApiConfig, logger: Logger): ServedApi {
  const server = serve({ fetch: api.app.fetch, port: config.PORT, hostname: config.HOST }, (info) =>
    logger.info({ port: info.port }, "api listening"),
  );
  let stopping: Promise<void> | undefined;
  return {
    stopServing: () =>
      (stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        api.releaseWaiters();
        const bound = new Promise<void>((resolve) =>
          setTimeout(resolve, config.SHUTDOWN_GRACE).unref(),
        );
        await Promise.race([closed, bound]);
      })()),
  };
}
