import { connect as netConnect, isIP } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { Redis } from "ioredis";
import type { RedisNode, RedisTarget } from "./redis-target";

/** TLS failures that mean "this CA does not vouch for that server": a wrong REDIS_URL ?ca=. */
const CERTIFICATE_ERROR =
  /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT_ALTNAME_INVALID/;

/**
 * Checks, before any real connection, what the real connections would only retry forever:
 * - a TLS certificate the configured CA does not trust stops the start, naming the CA
 *   setting (a wrong `?ca=` of REDIS_URL);
 * - a Redis that runs commands for anyone is refused (SECURITY.md, "Redis and scripts"): a
 *   k6 script can send an HTTP request to any address it reaches, and Redis runs an HTTP
 *   request line as an inline command (`SET /<path> HTTP/1.1`), unless REDIS_URL says
 *   `?allow_unauthenticated=true` (the target's `allowUnauthenticated`).
 * It opens a throwaway connection to the data node (asking the sentinels which one is the
 * primary) with no credentials and sends PING: NOAUTH (or any ACL refusal) is what we want.
 * Unreachable, or an answer that says neither, does not block a start: the normal
 * connection handles (and reports) that.
 */
export async function checkRedisAtStart(
  config: { redis: RedisTarget },
  timeoutMs = 3000,
): Promise<void> {
  const target = config.redis;
  const node = target.mode === "sentinel" ? await primaryOf(target, timeoutMs) : target.nodes[0];
  if (!node) return;
  const reply = await firstReplyTo("*1\r\n$4\r\nPING\r\n", node, target, timeoutMs);
  const where = `${node.host}:${node.port}`;
  if ("tlsError" in reply)
    throw new Error(
      `Redis at ${where} presented a TLS certificate that is not trusted ` +
        `(${reply.tlsError}): add ?ca=<the PEM file of the CA that signed it> to REDIS_URL` +
        (target.tls?.ca ? " (the one set does not)" : ""),
    );
  if (target.allowUnauthenticated || !/^\+PONG\b/.test(reply.line ?? "")) return;
  throw new Error(
    `Redis at ${where} accepts commands without a password: any k6 script that can ` +
      `reach it could write into it (see SECURITY.md). Set a password (requirepass or an ` +
      `ACL user) and put it in REDIS_URL or REDIS_PASSWORD, or add ` +
      `?allow_unauthenticated=true to REDIS_URL`,
  );
}

/** The primary's address as the first sentinel that answers gives it; undefined if none does. */
async function primaryOf(target: RedisTarget, timeoutMs: number): Promise<RedisNode | undefined> {
  for (const sentinel of target.nodes) {
    const client = new Redis({
      ...sentinel,
      username: target.sentinelUsername,
      password: target.sentinelPassword,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    client.on("error", () => undefined);
    try {
      await client.connect();
      const address = (await client.call(
        "SENTINEL",
        "GET-MASTER-ADDR-BY-NAME",
        target.sentinelName ?? "",
      )) as [string, string] | null;
      if (address) return { host: address[0], port: Number(address[1]) };
    } catch {
      // The next sentinel may answer.
    } finally {
      client.disconnect();
    }
  }
  return undefined;
}

type Reply = { line?: string } | { tlsError: string };

/** The first line Redis answers to `command` (none when it cannot be reached in time). */
function firstReplyTo(
  command: string,
  { host, port }: RedisNode,
  target: RedisTarget,
  timeoutMs: number,
): Promise<Reply> {
  return new Promise((resolve) => {
    const socket = target.tls
      ? tlsConnect({ host, port, ca: target.tls.ca, servername: isIP(host) ? undefined : host })
      : netConnect({ host, port });
    let received = "";
    const done = (reply: Reply) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    const timer = setTimeout(() => done({}), timeoutMs);
    socket.once(target.tls ? "secureConnect" : "connect", () => socket.write(command));
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      const end = received.indexOf("\r\n");
      if (end >= 0) done({ line: received.slice(0, end) });
    });
    socket.once("error", (error: NodeJS.ErrnoException) =>
      done(CERTIFICATE_ERROR.test(error.code ?? "") ? { tlsError: error.code ?? "" } : {}),
    );
    socket.once("close", () => done({ line: received || undefined }));
  });
}
