import { readFileSync } from "node:fs";
import type { z } from "zod";

export interface RedisNode {
  host: string;
  port: number;
}

/**
 * Where k6-gate's data lives, read once from the configuration: one server (`REDIS_URL`), a
 * Sentinel-managed primary (`REDIS_SENTINELS`), or a Redis Cluster (`REDIS_URL` with
 * `?cluster=true`, as the seed node). Every connection of both processes,
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
  /**
   * `?allow_unauthenticated=true`: start even when the data node runs commands without a
   * password (redis-preflight.ts; SECURITY.md, "Redis and scripts"). Not a connection setting.
   */
  allowUnauthenticated: boolean;
  /** Where, for logs and errors: never a password. */
  label: string;
}

export interface RedisSettings {
  REDIS_URL: string;
  REDIS_PASSWORD?: string;
  REDIS_SENTINELS?: string;
  QUEUE_PREFIX: string;
}

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/**
 * REDIS_URL's parameters: `ca` names the PEM file of the CA(s) that signed Redis's
 * certificate (with `rediss://`; redis-py reads the same from its URL as `ssl_ca_certs`),
 * `cluster=true` makes the URL's node the seed of a Redis Cluster,
 * `allow_unauthenticated=true` lets the processes start on a Redis that runs commands
 * without a password. None reaches ioredis: connections are built from the target.
 */
export const REDIS_URL_PARAMETERS = ["ca", "cluster", "allow_unauthenticated"] as const;

/** `{...}` with something inside: Redis hashes only that part of a key. */
export const HASH_TAG = /\{[^{}]+\}/;

function nodeOf(text: string, defaultPort: number): RedisNode | undefined {
  const match = /^(\[[^\]]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(text.trim());
  if (!match?.[1]) return undefined;
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1].replace(/^\[(.*)\]$/, "$1"), port };
}

/** Sentinel's name for the primary set when REDIS_SENTINELS names none (Redis's own example). */
const DEFAULT_SENTINEL_NAME = "mymaster";

interface SentinelSettings {
  nodes: RedisNode[];
  name: string;
  username?: string;
  password?: string;
}

/**
 * REDIS_SENTINELS: `[user:password@]host:port,host:port[/name]`, the user and password
 * percent-encoded as in REDIS_URL (the sentinels' own, when they have them), the port 26379
 * when left out, the name `mymaster`.
 */
function sentinelsOf(text: string, issue: (message: string) => void): SentinelSettings {
  const at = text.lastIndexOf("@");
  const userinfo = at < 0 ? undefined : text.slice(0, at);
  const rest = text.slice(at + 1);
  const slash = rest.indexOf("/");
  const list = slash < 0 ? rest : rest.slice(0, slash);
  const name = slash < 0 ? DEFAULT_SENTINEL_NAME : rest.slice(slash + 1).trim();
  if (!name) issue("names no primary set after its /");
  const listed = list.split(",").filter((part) => part.trim());
  const nodes = listed.flatMap((part) => {
    const node = nodeOf(part, 26379);
    if (!node) issue(`"${part.trim()}" is not host:port`);
    return node ? [node] : [];
  });
  if (listed.length === 0) issue("names no sentinel (host:port,host:port)");
  const decode = (part: string | undefined) => {
    if (!part) return undefined;
    try {
      return decodeURIComponent(part);
    } catch {
      issue("its user or password is not percent-encoded (write % as %25)");
      return undefined;
    }
  };
  const colon = userinfo?.indexOf(":") ?? -1;
  return {
    nodes,
    name,
    username: decode(colon < 0 ? userinfo : userinfo?.slice(0, colon)),
    password: decode(colon < 0 ? undefined : userinfo?.slice(colon + 1)),
  };
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
  for (const name of new Set(url.searchParams.keys())) {
    if (!(REDIS_URL_PARAMETERS as readonly string[]).includes(name))
      issue(
        "REDIS_URL",
        `?${name} is not a parameter k6-gate reads (${REDIS_URL_PARAMETERS.join(", ")})`,
      );
  }
  /** A true/false parameter: unset is false, anything else is an error, not a guess. */
  const flagParameter = (name: string): boolean => {
    const value = url.searchParams.get(name);
    if (value !== null && value !== "true" && value !== "false")
      issue("REDIS_URL", `?${name}=${value} is not true or false`);
    return value === "true";
  };
  const cluster = flagParameter("cluster");
  const allowUnauthenticated = flagParameter("allow_unauthenticated");
  const caFile = url.searchParams.get("ca") || undefined;
  const db = Number(url.pathname.slice(1) || 0);
  if (!Number.isInteger(db) || db < 0)
    issue("REDIS_URL", `"${url.pathname}" is not a database number`);

  const tlsWanted = url.protocol === "rediss:";
  let ca: string | undefined;
  if (caFile !== undefined) {
    if (!tlsWanted) issue("REDIS_URL", "has ?ca= but is redis:// (use rediss:// for TLS)");
    try {
      ca = readFileSync(caFile, "utf8");
      if (!ca.includes("-----BEGIN CERTIFICATE-----"))
        issue("REDIS_URL", `?ca=${caFile} holds no PEM certificate`);
    } catch (error) {
      issue("REDIS_URL", `?ca=: cannot read ${caFile}: ${(error as Error).message}`);
    }
  }

  const server = nodeOf(url.host, 6379) ?? { host: "127.0.0.1", port: 6379 };
  let mode: RedisTarget["mode"] = "standalone";
  let nodes = [server];
  let sentinels: SentinelSettings | undefined;
  if (settings.REDIS_SENTINELS !== undefined) {
    mode = "sentinel";
    sentinels = sentinelsOf(settings.REDIS_SENTINELS, (message) =>
      issue("REDIS_SENTINELS", message),
    );
    nodes = sentinels.nodes;
    if (cluster)
      issue(
        "REDIS_URL",
        "a Cluster has no sentinels: set REDIS_SENTINELS or ?cluster=true, not both",
      );
  } else if (cluster) {
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
    sentinelName: sentinels?.name,
    sentinelUsername: sentinels?.username,
    sentinelPassword: sentinels?.password,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: settings.REDIS_PASSWORD ?? urlPassword,
    db,
    tls: tlsWanted ? { ca } : undefined,
    allowUnauthenticated,
    label: sentinels
      ? `${sentinels.name} via sentinels ${where}`
      : mode === "cluster"
        ? `cluster at ${where}`
        : where,
  };
}
