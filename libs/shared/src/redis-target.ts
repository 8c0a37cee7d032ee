import { readFileSync } from "node:fs";
import type { z } from "zod";

export interface RedisNode {
  host: string;
  port: number;
}

/**
 * Where k6-gate's data lives, read once from the configuration: one server (`REDIS_URL`), a
 * Sentinel-managed primary (`REDIS_SENTINELS`, `REDIS_SENTINEL_NAME`), or a Redis Cluster
 * (`REDIS_CLUSTER`, `REDIS_URL` as the seed node). Every connection of both processes,
 * BullMQ's included, is built from it (redis.ts).
 */
export interface RedisTarget {
  mode: "standalone" | "sentinel" | "cluster";
  /** The server, the sentinels, or the cluster's seed node. */
  nodes: RedisNode[];
  /** Sentinel's name for the primary set (`sentinel monitor <name> ...`). */
  sentinelName?: string;
  sentinelUsername?: string;
  sentinelPassword?: string;
  /** An ACL user (Redis 6+); unset = `default`. */
  username?: string;
  password?: string;
  db: number;
  /** Present for `rediss://`: TLS to the data nodes, with this CA bundle (PEM) when given. */
  tls?: { ca?: string };
  /** Where, for logs and errors: never a password. */
  label: string;
}

export interface RedisSettings {
  REDIS_URL: string;
  REDIS_PASSWORD?: string;
  REDIS_SENTINELS?: string;
  REDIS_SENTINEL_NAME: string;
  REDIS_SENTINEL_USERNAME?: string;
  REDIS_SENTINEL_PASSWORD?: string;
  REDIS_CLUSTER: boolean;
  REDIS_TLS_CA?: string;
  QUEUE_PREFIX: string;
}

/** `{...}` with something inside: Redis hashes only that part of a key. */
export const HASH_TAG = /\{[^{}]+\}/;

function nodeOf(text: string, defaultPort: number): RedisNode | undefined {
  const match = /^(\[[^\]]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(text.trim());
  if (!match?.[1]) return undefined;
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1].replace(/^\[(.*)\]$/, "$1"), port };
}

/**
 * Builds the target from the Redis settings, adding an issue naming the field for each
 * problem (a password set twice, a CA file that cannot be read, a Cluster prefix without a
 * hash tag, ...). Used as the last step of both processes' config schemas.
 */
export function redisTargetOf(settings: RedisSettings, ctx: z.RefinementCtx): RedisTarget {
  const issue = (path: string, message: string) =>
    ctx.addIssue({ code: "custom", path: [path], message });
  const url = new URL(settings.REDIS_URL);
  if (url.protocol !== "redis:" && url.protocol !== "rediss:")
    issue("REDIS_URL", `must start with redis:// or rediss:// (TLS), not ${url.protocol}//`);
  const urlPassword = url.password ? decodeURIComponent(url.password) : undefined;
  if (
    settings.REDIS_PASSWORD !== undefined &&
    urlPassword !== undefined &&
    urlPassword !== settings.REDIS_PASSWORD
  )
    issue(
      "REDIS_PASSWORD",
      "REDIS_URL carries a different password; set the password in one place",
    );
  const db = Number(url.pathname.slice(1) || 0);
  if (!Number.isInteger(db) || db < 0)
    issue("REDIS_URL", `"${url.pathname}" is not a database number`);

  const tlsWanted = url.protocol === "rediss:";
  let ca: string | undefined;
  if (settings.REDIS_TLS_CA !== undefined) {
    if (!tlsWanted)
      issue("REDIS_TLS_CA", "is set, but REDIS_URL is redis:// (use rediss:// for TLS)");
    try {
      ca = readFileSync(settings.REDIS_TLS_CA, "utf8");
      if (!ca.includes("-----BEGIN CERTIFICATE-----"))
        issue("REDIS_TLS_CA", `${settings.REDIS_TLS_CA} holds no PEM certificate`);
    } catch (error) {
      issue("REDIS_TLS_CA", `cannot read ${settings.REDIS_TLS_CA}: ${(error as Error).message}`);
    }
  }

  const server = nodeOf(url.host, 6379) ?? { host: "127.0.0.1", port: 6379 };
  let mode: RedisTarget["mode"] = "standalone";
  let nodes = [server];
  if (settings.REDIS_SENTINELS !== undefined) {
    mode = "sentinel";
    const listed = settings.REDIS_SENTINELS.split(",").filter((text) => text.trim());
    nodes = listed.flatMap((text) => {
      const node = nodeOf(text, 26379);
      if (!node) issue("REDIS_SENTINELS", `"${text.trim()}" is not host:port`);
      return node ? [node] : [];
    });
    if (listed.length === 0) issue("REDIS_SENTINELS", "names no sentinel (host:port,host:port)");
    if (settings.REDIS_CLUSTER)
      issue(
        "REDIS_CLUSTER",
        "a Cluster has no sentinels: set REDIS_SENTINELS or REDIS_CLUSTER, not both",
      );
  } else if (settings.REDIS_CLUSTER) {
    mode = "cluster";
    // BullMQ's and k6-gate's scripts touch many keys at once: one slot holds them all.
    if (!HASH_TAG.test(settings.QUEUE_PREFIX))
      issue(
        "QUEUE_PREFIX",
        `on a Redis Cluster every key must share one hash tag: use {${settings.QUEUE_PREFIX}}`,
      );
    if (db !== 0) issue("REDIS_URL", "a Redis Cluster has database 0 only");
  }
  const where = nodes.map(({ host, port }) => `${host}:${port}`).join(",");
  return {
    mode,
    nodes,
    sentinelName: mode === "sentinel" ? settings.REDIS_SENTINEL_NAME : undefined,
    sentinelUsername: settings.REDIS_SENTINEL_USERNAME,
    sentinelPassword: settings.REDIS_SENTINEL_PASSWORD,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: settings.REDIS_PASSWORD ?? urlPassword,
    db,
    tls: tlsWanted ? { ca } : undefined,
    label:
      mode === "sentinel"
        ? `${settings.REDIS_SENTINEL_NAME} via sentinels ${where}`
        : mode === "cluster"
          ? `cluster at ${where}`
          : where,
  };
}
