import { startAllInOne, startApi, startWorker, testEnv, type ApiProcess } from "./k6gate";
import type { ManagedProcess } from "./process";
import { startRedis, type RedisOptions, type TestRedis } from "./redis";
import { startTarget, type Target } from "./target";

export type Env = Record<string, string>;

/**
 * k6-gate's processes on one Redis and one queue prefix (testEnv): what tests, benchmarks
 * and the soak start, each part as `npm run api|worker|all` starts it.
 */
export class GateProcesses {
  readonly env: Env;
  api: ApiProcess | undefined;
  readonly workers: ManagedProcess[] = [];
  /** Every process started here (a second API too, a restarted worker's predecessor). */
  readonly started: ManagedProcess[] = [];

  constructor(redisUrl: string, env: Env = {}) {
    this.env = testEnv(redisUrl, env);
  }

  /** `port` in `portVariable` (flagger-k6-webhook's LISTEN_PORT); else port 0, read back. */
  async startApi(
    extra: Env = {},
    { port, portVariable }: { port?: number; portVariable?: "PORT" | "LISTEN_PORT" } = {},
  ): Promise<ApiProcess> {
    this.api = await startApi({ ...this.env, ...extra }, port, { portVariable });
    this.started.push(this.api);
    return this.api;
  }

  /** `prefix`: a command that execs it (`taskset -c 0`: the worker and its k6 on one core). */
  async startWorker(
    extra: Env = {},
    { prefix }: { prefix?: string[] } = {},
  ): Promise<ManagedProcess> {
    const worker = await startWorker({ ...this.env, ...extra }, { prefix });
    this.workers.push(worker);
    this.started.push(worker);
    return worker;
  }

  async startWorkers(
    count: number,
    extra: Env = {},
    options: { prefix?: string[] } = {},
  ): Promise<ManagedProcess[]> {
    return Promise.all(Array.from({ length: count }, () => this.startWorker(extra, options)));
  }

  /**
   * The API and a worker in one process (apps/all): both the API and the one worker.
   * `port`: a port to listen on (another's, to show the second cannot take it).
   */
  async startAllInOne(
    extra: Env = {},
    options: { port?: number; prefix?: string[] } = {},
  ): Promise<ApiProcess> {
    this.api = await startAllInOne({ ...this.env, ...extra }, options);
    this.workers.push(this.api);
    this.started.push(this.api);
    return this.api;
  }

  /** Stops `worker` (if it still runs) and starts another in its place, with the same env. */
  async restartWorker(worker: ManagedProcess, extra: Env = {}): Promise<ManagedProcess> {
    const at = this.workers.indexOf(worker);
    if (at < 0) throw new Error("not one of these workers");
    await worker.stop();
    const next = await startWorker({ ...this.env, ...extra });
    this.workers.splice(at, 1, next);
    this.started.push(next);
    return next;
  }

  get apiUrl(): string {
    if (!this.api) throw new Error("API not started");
    return this.api.url;
  }

  /** `signal` (SIGTERM: SIGKILL after their grace) to every process; resolves once all exited. */
  async stop(signal?: NodeJS.Signals): Promise<void> {
    // A Set: an all-in-one process is both the API and a worker.
    const processes = new Set([...this.started, ...(this.api ? [this.api] : []), ...this.workers]);
    await Promise.allSettled([...processes].map((p) => p.stop(signal)));
  }
}

/**
 * Env, or a function called once Redis and the target are up (for values that need them,
 * or a directory made for the run).
 */
export type EnvOption = Env | ((parts: { redis: TestRedis; target: Target }) => Env | Promise<Env>);

export interface StackOptions {
  /** redis-server's options (appendonly, auth, aclPrefix, tls). */
  redis?: RedisOptions;
  /** Start an API (default true). */
  api?: boolean;
  /** Workers to start (default 1). */
  workers?: number;
  /** One all-in-one process (apps/all) in place of the API and workers. */
  allInOne?: boolean;
  /** Env of every k6-gate process, on top of testEnv's. */
  env?: EnvOption;
  /** Env of the API only, on top of `env`. */
  apiEnv?: EnvOption;
  /** Env of the workers only, on top of `env`. */
  workerEnv?: EnvOption;
  /** A command that execs each worker (`taskset -c 0`: a worker and its k6 on one core). */
  workerPrefix?: string[];
}

/** A redis-server, an HTTP target and k6-gate's processes on them. */
export interface StartedStack {
  readonly redis: TestRedis;
  readonly target: Target;
  readonly gate: GateProcesses;
  /** Stops the processes, then deletes Redis's data and closes the target. */
  stop(): Promise<void>;
}

/** Starts what `options` ask for; on a failed start, stops what did start. */
export async function startStack(options: StackOptions = {}): Promise<StartedStack> {
  const [redis, target] = await Promise.all([startRedis(options.redis), startTarget()]);
  const envOf = async (option: EnvOption | undefined) =>
    typeof option === "function" ? option({ redis, target }) : option;
  const close = () => Promise.allSettled([redis.destroy(), target.close()]);
  let gate: GateProcesses | undefined;
  try {
    gate = new GateProcesses(redis.url, await envOf(options.env));
    const [apiEnv, workerEnv] = [await envOf(options.apiEnv), await envOf(options.workerEnv)];
    if (options.allInOne) await gate.startAllInOne({ ...apiEnv, ...workerEnv });
    else
      await Promise.all([
        options.api === false ? undefined : gate.startApi(apiEnv),
        gate.startWorkers(options.workers ?? 1, workerEnv, { prefix: options.workerPrefix }),
      ]);
    const started = gate;
    const stop = async () => {
      await started.stop();
      await close();
    };
    return { redis, target, gate, stop };
  } catch (error) {
    await gate?.stop();
    await close();
    throw error;
  }
}
