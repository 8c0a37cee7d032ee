import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess, type ManagedProcess } from "./process";
import { freePort } from "./ports";

export interface TestRedis {
  url: string;
  port: number;
  /** Stops the server (SIGTERM; with AOF on it flushes first). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
}

/** A real redis-server on a free port, its own data dir, as BullMQ's guide says to run it. */
export async function startRedis({ appendonly = false } = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "k6-gate-redis-"));
  let server: ManagedProcess | undefined;
  const start = async () => {
    server = startProcess(
      "redis-server",
      [
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
    url: `redis://127.0.0.1:${port}`,
    port,
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
