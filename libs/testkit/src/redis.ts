import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess, type ManagedProcess } from "./process";
import { freePort } from "./ports";
import { ROOT } from "./paths";

/** The ACL user k6-gate needs, as docs/operations.md quotes it: the one source of truth. */
export const ACL_FILE = join(ROOT, "deploy", "redis", "k6gate.acl");
export const ACL_USER = "k6gate";

/**
 * The `user k6gate ...` line of deploy/redis/k6gate.acl, its key and channel patterns
 * following `prefixPattern` as they follow QUEUE_PREFIX in production (`k6gate`: the line
 * as shipped; `test-*`: every testEnv prefix).
 */
export function aclUserLine(prefixPattern = "k6gate"): string {
  const line = readFileSync(ACL_FILE, "utf8")
    .split("\n")
    .find((text) => text.startsWith(`user ${ACL_USER} `));
  if (!line) throw new Error(`${ACL_FILE} has no "user ${ACL_USER} ..." line`);
  return line.trim().replace(/([~&]\{?)k6gate(\}?:\*)/g, `$1${prefixPattern}$2`);
}

/** Certificate files for a TLS-only server (libs/testkit/src/redis-tls.ts makes them). */
export interface RedisTlsFiles {
  cert: string;
  key: string;
  ca: string;
}

export interface TestRedis {
  /**
   * What k6-gate processes get: `redis://k6gate:<password>@127.0.0.1:<port>`, the ACL user
   * of deploy/redis/k6gate.acl (keys and channels `test-*`, or `aclPrefix`); without a
   * user or password for `auth: false`. `rediss://` with `tls`.
   */
  url: string;
  /**
   * The `default` user (its own `requirepass`), allowed everything: for a test's own
   * inspection and setup beyond k6-gate's commands (KEYS, FLUSHALL, CONFIG, DEBUG, other
   * prefixes). Same as `url` for `auth: false`.
   */
  adminUrl: string;
  port: number;
  /** The ACL user's password (random per server); undefined for `auth: false`. */
  password: string | undefined;
  /** Stops the server (SIGTERM; with AOF on it flushes first). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
}

export interface RedisOptions {
  appendonly?: boolean;
  /** false: no password, no ACL user (the tests that show what an open Redis allows). */
  auth?: boolean;
  /** The ACL user's key and channel pattern in place of the file's `k6gate`. */
  aclPrefix?: string;
  /** TLS only (`--port 0`), clients not asked for a certificate. */
  tls?: RedisTlsFiles;
}

/**
 * A real redis-server on a free port, its own data dir, as BullMQ's guide says to run it,
 * never unauthenticated (SECURITY.md, "Redis and scripts"): the `default` user has a random password
 * (`requirepass`, for `adminUrl`) and k6-gate connects as the documented ACL user
 * (deploy/redis/k6gate.acl) with another, so every e2e test shows that user is enough.
 * Both passwords are in a config file (0600) in the data dir, not on the command line.
 * `auth: false` is for the tests that show what an open Redis allows.
 */
export async function startRedis({
  appendonly = false,
  auth = true,
  aclPrefix = "test-*",
  tls,
}: RedisOptions = {}): Promise<TestRedis> {
  let port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "k6-gate-redis-"));
  const adminPassword = auth ? randomBytes(24).toString("hex") : undefined;
  const password = auth ? randomBytes(24).toString("hex") : undefined;
  const conf = join(dir, "redis.conf");
  writeFileSync(
    conf,
    adminPassword ? `requirepass ${adminPassword}\n${aclUserLine(aclPrefix)} >${password}\n` : "",
    { mode: 0o600 },
  );
  const listen = () =>
    tls
      ? [
          "--port",
          "0",
          "--tls-port",
          String(port),
          "--tls-cert-file",
          tls.cert,
          "--tls-key-file",
          tls.key,
          "--tls-ca-cert-file",
          tls.ca,
          "--tls-auth-clients",
          "no",
        ]
      : ["--port", String(port)];
  let server: ManagedProcess | undefined;
  const start = async () => {
    server = startProcess(
      "redis-server",
      [
        conf,
        ...listen(),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        appendonly ? "yes" : "no",
        "--appendfsync",
        "always",
        "--maxmemory-policy",
        "noeviction",
      ],
      { name: `redis:${port}` },
    );
    await server.waitForOutput(/Ready to accept connections/);
  };
  // redis-server cannot listen on port 0 and say which port it got, so the port is probed
  // first; another process may take it before redis-server binds it: then another port.
  for (let tries = 1; ; tries++) {
    try {
      await start();
      break;
    } catch (error) {
      if (tries >= 5 || !/Address already in use/.test(server?.output() ?? "")) throw error;
      port = await freePort();
    }
  }
  const scheme = tls ? "rediss" : "redis";
  const where = `127.0.0.1:${port}`;
  return {
    url: password ? `${scheme}://${ACL_USER}:${password}@${where}` : `${scheme}://${where}`,
    adminUrl: adminPassword ? `${scheme}://:${adminPassword}@${where}` : `${scheme}://${where}`,
    port,
    password,
    start,
    stop: async () => {
      await server?.stop();
    },
    destroy: async () => {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
