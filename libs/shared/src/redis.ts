import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { RedisNode, RedisTarget } from "./redis-target";

/** A connection to wherever k6-gate's data lives: a server (direct or via Sentinel) or a Cluster. */
export type RedisClient = Redis | Cluster;

const retryStrategy = (attempt: number) => Math.min(attempt * 200, 2000);

/**
 * One connection to `target` with `options` (the per-connection behaviour below). Sentinel:
 * ioredis asks the sentinels for the primary whenever it (re)connects, and
 * reconnects when a demoted primary answers READONLY. Not ioredis's `failoverDetector`: a
 * lost connection's detector stays subscribed, and a `+switch-master` that arrives while
 * the client is still asking the sentinels ends the client for good ("Connection is
 * closed."; ioredis#1683, seen in test/redis/sentinel.test.ts). Cluster:
 * the seed node tells ioredis the rest; every key shares one hash tag, so one node answers.
 */
function connect(target: RedisTarget, options: RedisOptions): RedisClient {
  const tls = target.tls && { ca: target.tls.ca };
  // No CLIENT SETINFO: not in the ACL user's commands (deploy/redis/k6gate.acl), and Redis
  // 7.2+ would log each refusal in ACL LOG.
  const auth = {
    username: target.username,
    password: target.password,
    tls,
    disableClientInfo: true,
  };
  if (target.mode === "cluster") {
    const { enableOfflineQueue, ...perNode } = options;
    return new Cluster(target.nodes, {
      enableOfflineQueue,
      clusterRetryStrategy: retryStrategy,
      redisOptions: { ...perNode, ...auth },
    });
  }
  const reconnectOnError = (error: Error) => (error.message.startsWith("READONLY") ? 2 : false);
  if (target.mode === "sentinel") {
    return new Redis({
      sentinels: target.nodes,
      name: target.sentinelName,
      sentinelUsername: target.sentinelUsername,
      sentinelPassword: target.sentinelPassword,
      enableTLSForSentinelMode: tls !== undefined,
      sentinelRetryStrategy: retryStrategy,
      db: target.db,
      reconnectOnError,
      ...auth,
      ...options,
    });
  }
  const [server] = target.nodes as [RedisNode];
  return new Redis({ ...server, db: target.db, reconnectOnError, ...auth, ...options });
}

/**
 * The API must answer fast when Redis is away (503, not a hung webhook), so its
 * connection does not queue commands while offline. Workers should wait for Redis to
 * come back instead, as BullMQ requires (`maxRetriesPerRequest: null`).
 */
export function producerConnection(target: RedisTarget, extra: RedisOptions = {}): RedisClient {
  return connect(target, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 3000,
    connectTimeout: 3000,
    retryStrategy,
    ...extra,
  });
}

export function workerConnection(target: RedisTarget, extra: RedisOptions = {}): RedisClient {
  return connect(target, { maxRetriesPerRequest: null, retryStrategy, ...extra });
}
