import { connect as netConnect, isIP } from "node:net";
import { connect as tlsConnect } from "node:tls";
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

/**
 * Refuses a Redis that runs commands for anyone (design §5): a k6 script can send an
 * HTTP request to any address it reaches, and Redis runs an HTTP request line as an
 * inline command (`SET /<path> HTTP/1.1`). Opens a throwaway connection to the same
 * host and port (TLS for `rediss://`) with no credentials and sends PING: NOAUTH (or any
 * ACL refusal) is what we want; PONG throws. Unreachable, or an answer that says neither,
 * does not block a start: the normal connection handles (and reports) that.
 */
export async function assertRedisRequiresAuth(
  config: { REDIS_URL: string; REDIS_ALLOW_UNAUTHENTICATED: boolean },
  timeoutMs = 3000,
): Promise<void> {
  if (config.REDIS_ALLOW_UNAUTHENTICATED) return;
  const url = new URL(config.REDIS_URL);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1";
  const port = Number(url.port || 6379);
  const reply = await firstReplyTo("*1\r\n$4\r\nPING\r\n", {
    host,
    port,
    tls: url.protocol === "rediss:",
    timeoutMs,
  });
  if (reply === undefined || !/^\+PONG\b/.test(reply)) return;
  throw new Error(
    `Redis at ${url.host} accepts commands without a password: any k6 script that can ` +
      `reach it could write into it (see SECURITY.md). Set a password (requirepass or an ` +
      `ACL user) and put it in REDIS_URL or REDIS_PASSWORD, or set ` +
      `REDIS_ALLOW_UNAUTHENTICATED=true`,
  );
}

/** The first line Redis answers to `command`; undefined when it cannot be reached in time. */
function firstReplyTo(
  command: string,
  { host, port, tls, timeoutMs }: { host: string; port: number; tls: boolean; timeoutMs: number },
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = tls
      ? tlsConnect({ host, port, servername: isIP(host) ? undefined : host })
      : netConnect({ host, port });
    let received = "";
    const done = (reply: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.once(tls ? "secureConnect" : "connect", () => socket.write(command));
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      const end = received.indexOf("\r\n");
      if (end >= 0) done(received.slice(0, end));
    });
    socket.once("error", () => done(undefined));
    socket.once("close", () => done(received || undefined));
  });
}
