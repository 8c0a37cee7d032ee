import { randomUUID } from "node:crypto";
import { testEnv } from "./k6gate";

/**
 * Where a scenario's k6-gate stacks keep their data (test/scenarios): one redis-server or a
 * Redis Cluster, started by the test file that runs the scenarios.
 */
export interface RedisUnderTest {
  /** REDIS_URL: the server, or the cluster's seed node. */
  url: string;
  /** testEnv for one k6-gate stack on it: a fresh queue prefix each call. */
  env(extra?: Record<string, string>): Record<string, string>;
}

/** One redis-server (startRedis). */
export function onServer({ url }: { url: string }): RedisUnderTest {
  return { url, env: (extra) => testEnv(url, extra) };
}

/** A Redis Cluster (startRedisCluster): each stack's keys under one fresh hash tag. */
export function onCluster({ url }: { url: string }): RedisUnderTest {
  return {
    url,
    env: (extra = {}) =>
      testEnv(url, {
        REDIS_CLUSTER: "true",
        QUEUE_PREFIX: `{test-${randomUUID().slice(0, 8)}}`,
        ...extra,
      }),
  };
}
