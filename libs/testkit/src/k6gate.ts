import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { startProcess, type ManagedProcess } from "./process";
import { K6_BIN, ROOT } from "./paths";

export interface ApiProcess extends ManagedProcess {
  url: string;
  port: number;
}

/**
 * Node's flags for k6-gate's processes, as the image sets them (Dockerfile ENV NODE_OPTIONS;
 * test/deploy/manifests.test.ts holds the two together): V8's young generation capped at
 * 16 MB per semi-space, which holding 1,000 long-polls grows to 128 MB otherwise
 * (docs/benchmarks.md, "Memory").
 */
export const NODE_OPTIONS = "--max-semi-space-size=16";

/**
 * NODE_OPTIONS for a process the harness starts: the image's, then PROFILE_NODE_FLAGS from
 * the harness's own env (`--cpu-prof --cpu-prof-dir=DIR`: where a benchmark's time goes).
 */
export const harnessNodeOptions = (): string =>
  [NODE_OPTIONS, process.env.PROFILE_NODE_FLAGS ?? ""].join(" ").trim();

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
    // Tests count and order runs one worker takes at a time; `auto` (the default) is
    // tested where it is meant: test/worker-concurrency.test.ts.
    WORKER_CONCURRENCY: "1",
    ...extra,
  };
}

/** The processes k6-gate ships: the API, a worker, both in one (apps/all, small installs). */
type App = "api" | "worker" | "all";

function entry(app: App): string[] {
  return ["--import", "tsx", join(ROOT, "apps", app, "src", "main.ts")];
}

/** `app` as `npm run <app>` starts it, after `prefix` (a command that execs it). */
function spawnApp(
  app: App,
  env: Record<string, string>,
  { name, prefix = [] }: { name: string; prefix?: string[] },
): ManagedProcess {
  const [command = process.execPath, ...args] = [...prefix, process.execPath, ...entry(app)];
  return startProcess(command, args, {
    name,
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_OPTIONS: harnessNodeOptions(),
      ...env,
    },
  });
}

/** A process as `npm run api|worker|all` starts it, without waiting for it to be up. */
export function launchApp(app: App, env: Record<string, string>): ManagedProcess {
  return spawnApp(app, { ...env, PORT: "0", HOST: "127.0.0.1" }, { name: app });
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
  const api = spawnApp(
    "api",
    { ...env, [portVariable]: String(port ?? 0), HOST: "127.0.0.1" },
    { name: `api:${port ?? "any port"}` },
  );
  const bound = await listeningPort(api);
  return { ...api, url: `http://127.0.0.1:${bound}`, port: bound };
}

/**
 * The port an API process bound, from its "api listening" line: children are started on
 * the port they are given, or on port 0 (the kernel's choice), never on one probed free
 * and bound later (another process can take it in between).
 */
export async function listeningPort(child: ManagedProcess): Promise<number> {
  const line = await child.waitForOutput(/^\{[^\n]*"msg":"api listening"[^\n]*\}$/m);
  const { port } = JSON.parse(line) as { port?: unknown };
  if (typeof port !== "number") throw new Error(`no port in: ${line}`);
  return port;
}

/**
 * A worker as its own OS process, exactly as `npm run worker` starts it. `prefix`: a
 * command that execs it (`taskset -c 0`: a worker, and so its k6, limited to one core).
 */
export async function startWorker(
  env: Record<string, string>,
  { prefix = [] }: { prefix?: string[] } = {},
): Promise<ManagedProcess> {
  const worker = spawnApp("worker", env, { name: "worker", prefix });
  await worker.waitForOutput(/worker started/);
  return worker;
}

/**
 * The API and a worker in one OS process, as `npm run all` starts it (what small installs
 * and `make demo` run); up once it listens and takes jobs. It is both the API and the worker.
 */
export async function startAllInOne(
  env: Record<string, string>,
  { port, prefix = [] }: { port?: number; prefix?: string[] } = {},
): Promise<ApiProcess> {
  const all = spawnApp(
    "all",
    { ...env, PORT: String(port ?? 0), HOST: "127.0.0.1" },
    { name: `all:${port ?? "any port"}`, prefix },
  );
  await all.waitForOutput(/worker started/);
  const bound = await listeningPort(all);
  return { ...all, url: `http://127.0.0.1:${bound}`, port: bound };
}
