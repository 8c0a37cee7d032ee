import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess, type ManagedProcess } from "./process";
import { freePort } from "./ports";

export interface TestRedis {
  /** `redis://:<password>@127.0.0.1:<port>`, or without the password when it has none. */
  url: string;
  port: number;
  /** Random per server (`requirepass`, as every shipped config runs Redis); undefined for `auth: false`. */
  password: string | undefined;
  /** Stops the server (SIGTERM; with AOF on it flushes first). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
}

/**
 * A real redis-server on a free port, its own data dir, as BullMQ's guide says to run it,
 * with a random password (design §5: never unauthenticated). The password is in a config
 * file (0600) in the data dir, not on the command line. `auth: false` is for the tests
 * that show what an open Redis allows.
 */
export async function startRedis({ appendonly = false, auth = true } = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "k6-gate-redis-"));
  const password = auth ? randomBytes(24).toString("hex") : undefined;
  const conf = join(dir, "redis.conf");
  writeFileSync(conf, password ? `requirepass ${password}\n` : "", { mode: 0o600 });
  let server: ManagedProcess | undefined;
  const start = async () => {
    server = startProcess(
      "redis-server",
      [
        conf,
        "--port",
        String(port),
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
  await start();
  return {
    url: password ? `redis://:${password}@127.0.0.1:${port}` : `redis://127.0.0.1:${port}`,
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
