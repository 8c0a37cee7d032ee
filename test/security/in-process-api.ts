import { once } from "node:events";
import { Queue } from "bullmq";
import { createLogger, producerConnection, RUN_QUEUE, RunStore } from "@k6-gate/shared";
import { createApp } from "../../apps/api/src/app";
import { apiConfigSchema, type ApiConfig } from "../../apps/api/src/config";
import { RunWaiter } from "../../apps/api/src/run-waiter";
import { testEnv } from "../support/k6gate";

export interface InProcessApi {
  app: ReturnType<typeof createApp>;
  config: ApiConfig;
  waiter: RunWaiter;
  prefix: string;
  /** Every Redis key written under this API's queue prefix. */
  keys(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * The API's real app and dependencies (config schema, Redis, RunStore, BullMQ queue,
 * RunWaiter) in the test process, called with `app.request()`: no port, so thousands of
 * requests take seconds. Built as main.ts builds them.
 */
export async function inProcessApi(
  redisUrl: string,
  env: Record<string, string> = {},
): Promise<InProcessApi> {
  const config = apiConfigSchema.parse(testEnv(redisUrl, { LOG_LEVEL: "silent", ...env }));
  const redis = producerConnection(config.REDIS_URL);
  const subscriber = producerConnection(config.REDIS_URL, {
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    commandTimeout: undefined,
  });
  const queueConnection = producerConnection(config.REDIS_URL, { enableOfflineQueue: true });
  // As main.ts does: connection errors are the callers' 503s, not crashes.
  for (const connection of [redis, subscriber, queueConnection]) connection.on("error", () => {});
  // The fail-fast connection refuses commands until it is connected.
  if (redis.status !== "ready") await once(redis, "ready");
  const store = new RunStore(redis, config.QUEUE_PREFIX, {
    maxRunsPerCanary: config.HISTORY_MAX_RUNS_PER_CANARY,
    maxAgeMs: config.HISTORY_MAX_AGE,
  });
  const queue = new Queue(RUN_QUEUE, { connection: queueConnection, prefix: config.QUEUE_PREFIX });
  const waiter = new RunWaiter(subscriber, store);
  await waiter.start();
  const logger = createLogger("k6-gate-api", config.LOG_LEVEL);
  const app = createApp({ config, redis, store, queue, waiter, logger });
  return {
    app,
    config,
    waiter,
    prefix: config.QUEUE_PREFIX,
    keys: () => redis.keys(`${config.QUEUE_PREFIX}:*`),
    close: async () => {
      waiter.releaseAll();
      await queue.close();
      await Promise.allSettled([queueConnection.quit(), redis.quit(), subscriber.quit()]);
    },
  };
}
