import { Redis, type RedisOptions } from "ioredis";

/**
 * The API must answer fast when Redis is away (503, not a hung webhook), so its
 * connection does not queue commands while offline. Workers should wait for Redis to
 * come back instead, as BullMQ requires (`maxRetriesPerRequest: null`).
 */
export function producerConnection(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 3000,
    connectTimeout: 3000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    ...extra,
  });
}

export function workerConnection(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    ...extra,
  });
}
