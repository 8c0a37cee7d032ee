import { once } from "node:events";
import { Queue } from "bullmq";
import {
  checkRedisAtStart,
  producerConnection,
  RUN_QUEUE,
  retentionPolicyOf,
  RunDetailsStore,
  RunStore,
  startReconciler,
  sweepIntervalOf,
  type Logger,
  type RedisClient,
} from "@k6-gate/shared";
import { createApp } from "./app";
import type { ApiConfig } from "./config";
import type { AppDeps } from "./deps";
import { RunWaiter } from "./run-waiter";
import { loosePrefixPatterns } from "./webhook-tokens";

/** Longest `close()` waits for Redis to take its QUITs. */
const CLOSE_BOUND_MS = 5000;

export interface BuiltApi {
  app: ReturnType<typeof createApp>;
  deps: AppDeps;
  /** The subscribed connection (verdicts); an all-in-one worker listens for stops on it too. */
  subscriber: RedisClient;
  /** Ends every long-poll now (callers get 503 and Flagger retries elsewhere). */
  releaseWaiters(): void;
  /** Closes the queue and every connection; idempotent. */
  close(): Promise<void>;
}

/**
 * Everything the API runs on, built one way for main.ts and for tests (after refusing a
 * Redis that takes commands without a password): connections, the
 * run store, the queue, the long-poll waiter, the reconciler and the app. Waits (bounded)
 * for Redis: calls would only get 503 before it is there.
 */
export async function buildApi(config: ApiConfig, logger: Logger): Promise<BuiltApi> {
  for (const notice of config.envNotices ?? []) logger.warn(notice);
  for (const { message, ...loose } of loosePrefixPatterns(config.WEBHOOK_TOKENS_FILE ?? [])) {
    logger.warn(loose, message);
  }
  // Any k6 script could write into a Redis that takes commands without a password.
  await checkRedisAtStart(config);
  const redis = producerConnection(config.redis);
  const subscriber = producerConnection(config.redis, {
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    commandTimeout: undefined,
  });
  // The queue's own connection may buffer while connecting (BullMQ checks the server at
  // construction); calls still fail fast because the run decision uses `redis` first.
  const queueConnection = producerConnection(config.redis, { enableOfflineQueue: true });
  // Connection errors become the callers' 503s, not crashes.
  redis.on("error", (error) => logger.warn({ err: error }, "redis connection error"));
  subscriber.on("error", (error) => logger.warn({ err: error }, "redis subscriber error"));
  const store = new RunStore(redis, config.QUEUE_PREFIX, retentionPolicyOf(config));
  const queue = new Queue(RUN_QUEUE, { connection: queueConnection, prefix: config.QUEUE_PREFIX });
  queue.on("error", (error) => logger.warn({ err: error }, "queue error"));
  const waiter = new RunWaiter(subscriber, store);
  const subscribed = waiter
    .start()
    .catch((error: unknown) => logger.error({ err: error }, "could not subscribe to verdicts"));

  await Promise.race([
    Promise.all([redis.status === "ready" ? undefined : once(redis, "ready"), subscribed]),
    new Promise((resolve) => setTimeout(resolve, 10_000).unref()),
  ]);
  const stopReconciler = startReconciler({
    redis,
    store,
    queue,
    logger,
    prefix: config.QUEUE_PREFIX,
    intervalMs: sweepIntervalOf(config),
  });
  const details = new RunDetailsStore(redis, config.QUEUE_PREFIX, config.HISTORY_MAX_AGE);
  const deps: AppDeps = { config, redis, store, details, queue, waiter, logger };
  let closing: Promise<void> | undefined;
  return {
    app: createApp(deps),
    deps,
    subscriber,
    releaseWaiters: () => waiter.releaseAll(),
    close: () =>
      (closing ??= Promise.race([
        (async () => {
          waiter.releaseAll();
          await stopReconciler();
          await Promise.allSettled([queue.close()]);
          await Promise.allSettled([queueConnection.quit(), redis.quit(), subscriber.quit()]);
        })(),
        // An unreachable Redis must not hold the exit: nothing is lost by leaving now.
        new Promise<void>((resolve) => setTimeout(resolve, CLOSE_BOUND_MS).unref()),
      ])),
  };
}
