import { serve } from "@hono/node-server";
import { Queue } from "bullmq";
import { createLogger, producerConnection, RUN_QUEUE, RunStore } from "@k6-gate/shared";
import { createApp } from "./app";
import { loadApiConfig } from "./config";
import { RunWaiter } from "./run-waiter";

// Entry point: config, connections, HTTP server, signals.
const config = loadApiConfig();
const logger = createLogger("k6-gate-api", config.LOG_LEVEL);
const redis = producerConnection(config.REDIS_URL);
const subscriber = producerConnection(config.REDIS_URL, {
  enableOfflineQueue: true,
  maxRetriesPerRequest: null,
  commandTimeout: undefined,
});
redis.on("error", (error) => logger.warn({ err: error.message }, "redis connection error"));
subscriber.on("error", (error) => logger.warn({ err: error.message }, "redis subscriber error"));
const store = new RunStore(redis, config.QUEUE_PREFIX, {
  maxRunsPerCanary: config.HISTORY_MAX_RUNS_PER_CANARY,
  maxAgeMs: config.HISTORY_MAX_AGE,
});
// The queue's own connection may buffer while connecting (BullMQ checks the server at
// construction); calls still fail fast because the run decision uses `redis` first.
const queueConnection = producerConnection(config.REDIS_URL, { enableOfflineQueue: true });
const queue = new Queue(RUN_QUEUE, { connection: queueConnection, prefix: config.QUEUE_PREFIX });
queue.on("error", (error) => logger.warn({ err: error.message }, "queue error"));
const waiter = new RunWaiter(subscriber, store);
void waiter
  .start()
  .catch((error: unknown) => logger.error({ err: error }, "could not subscribe to verdicts"));

// Listen once Redis is there (bounded): calls would only get 503 before that.
await Promise.race([
  new Promise((resolve) =>
    redis.status === "ready" ? resolve(null) : redis.once("ready", resolve),
  ),
  new Promise((resolve) => setTimeout(resolve, 10_000).unref()),
]);
const app = createApp({ config, redis, store, queue, waiter, logger });
const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) =>
  logger.info({ port: info.port }, "api listening"),
);

let closing: Promise<void> | undefined;
function shutdown(signal: string): Promise<void> {
  closing ??= (async () => {
    logger.info({ signal }, "api stopping");
    // Stop accepting; waiting calls get 503 now and Flagger's retry reattaches elsewhere.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    waiter.releaseAll();
    const bound = new Promise<void>((resolve) =>
      setTimeout(resolve, config.SHUTDOWN_GRACE).unref(),
    );
    await Promise.race([closed, bound]);
    await Promise.allSettled([
      queue.close(),
      queueConnection.quit(),
      redis.quit(),
      subscriber.quit(),
    ]);
    logger.info("api stopped");
  })();
  return closing;
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    void shutdown(signal).then(() => process.exit(0));
  });
}
