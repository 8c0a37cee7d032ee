import type { Hono } from "hono";
import { Redis } from "ioredis";
import { createLogger } from "@k6-gate/shared";
import { buildApi } from "../../apps/api/src/build";
import { apiConfigSchema, type ApiConfig } from "../../apps/api/src/config";
import type { AppEnv } from "../../apps/api/src/deps";
import type { RunWaiter } from "../../apps/api/src/run-waiter";
import { testEnv } from "@k6-gate/testkit/k6gate";
import type { TestRedis } from "@k6-gate/testkit/redis";

export interface InProcessApi {
  app: Hono<AppEnv>;
  config: ApiConfig;
  waiter: RunWaiter;
  prefix: string;
  /** Every Redis key written under this API's queue prefix. */
  keys(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * The API's real app and dependencies, built by the same `buildApi` as main.ts, in the
 * test process and called with `app.request()`: no port, so thousands of requests take
 * seconds.
 */
export async function inProcessApi(
  redis: Pick<TestRedis, "url" | "adminUrl">,
  env: Record<string, string> = {},
): Promise<InProcessApi> {
  const config = apiConfigSchema.parse(testEnv(redis.url, { LOG_LEVEL: "silent", ...env }));
  const api = await buildApi(config, createLogger("k6-gate-api", config.LOG_LEVEL));
  return {
    app: api.app,
    config,
    waiter: api.deps.waiter,
    prefix: config.QUEUE_PREFIX,
    // KEYS is not one of k6-gate's commands (its ACL user is refused it): the default user reads.
    keys: async () => {
      const admin = new Redis(redis.adminUrl);
      try {
        return await admin.keys(`${config.QUEUE_PREFIX}:*`);
      } finally {
        admin.disconnect();
      }
    },
    close: () => api.close(),
  };
}
