import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { startProcess, type ManagedProcess } from "./process";
import { freePort } from "./ports";
import { K6_BIN, ROOT } from "./paths";

export interface ApiProcess extends ManagedProcess {
  url: string;
  port: number;
}

/** Env every k6-gate process in a test shares: one Redis, one fresh queue prefix. */
export function testEnv(
  redisUrl: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
    K6_BIN,
    LOG_LEVEL: "info",
    // Tests run many workers on one host; those that test metrics pick a port.
    WORKER_METRICS_PORT: "0",
    // Tests and benchmarks play many canaries and scripts in one namespace: quotas (decision
    // 44) only where a test sets them (test/security/shared-store.test.ts).
    MAX_CANARIES_PER_OWNER: "0",
    MAX_SCRIPTS_PER_OWNER: "0",
    MAX_OUTPUT_BYTES_PER_OWNER: "0",
    ...extra,
  };
}

function entry(app: "api" | "worker"): string[] {
  return ["--import", "tsx", join(ROOT, "apps", app, "src", "main.ts")];
}

/** The API or worker as `npm run api|worker` starts it, without waiting for it to be up. */
export function launchApp(app: "api" | "worker", env: Record<string, string>): ManagedProcess {
  return startProcess(process.execPath, entry(app), {
    name: app,
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, PORT: "0", HOST: "127.0.0.1" },
  });
}

/**
 * The API as its own OS process, exactly as `npm run api` starts it. `portVariable`: the
 * variable the port is given in (flagger-k6-webhook's LISTEN_PORT, to test that alias).
 */
export async function startApi(
  env: Record<string, string>,
  port?: number,
  { portVariable = "PORT" }: { portVariable?: "PORT" | "LISTEN_PORT" } = {},
): Promise<ApiProcess> {
  const chosen = port ?? (await freePort());
  const api = startProcess(process.execPath, entry("api"), {
    name: `api:${chosen}`,
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...env,
      [portVariable]: String(chosen),
      HOST: "127.0.0.1",
    },
  });
  await api.waitForOutput(/api listening/);
  return { ...api, url: `http://127.0.0.1:${chosen}`, port: chosen };
}

/**
 * A worker as its own OS process, exactly as `npm run worker` starts it. `prefix`: a
 * command that execs it (`taskset -c 0`: a worker, and so its k6, limited to one core).
 */
export async function startWorker(
  env: Record<string, string>,
  { prefix = [] }: { prefix?: string[] } = {},
): Promise<ManagedProcess> {
  const [command = process.execPath, ...args] = [...prefix, process.execPath, ...entry("worker")];
  const worker = startProcess(command, args, {
    name: "worker",
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  await worker.waitForOutput(/worker started/);
  return worker;
}
