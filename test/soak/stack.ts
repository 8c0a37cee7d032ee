import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { startApi, startWorker, testEnv } from "../support/k6gate";
import { freePort } from "../support/ports";
import type { ManagedProcess } from "../support/process";
import { startSentinelSet, type TestSentinelSet } from "../support/redis-sentinel";
import { startTarget, type Target } from "../support/target";
import { waitFor } from "../support/wait";

export interface Slot {
  /** "api 0", "worker 1". */
  label: string;
  /** An API's port: kept across restarts, as a Service's endpoint would be. */
  port: number;
  process: ManagedProcess | undefined;
}

/**
 * The soak's k6-gate: a Sentinel-managed Redis (a primary, two replicas, three sentinels),
 * APIs and workers as real OS processes in numbered slots the chaos loop kills and
 * restarts, and the HTTP target the scripts hit. Everything on 127.0.0.1.
 */
export class SoakStack {
  readonly apis: Slot[];
  readonly workers: Slot[];
  /** Every process ever started here, killed ones included: their logs go to the artifacts. */
  readonly started: ManagedProcess[] = [];
  readonly prefix: string;
  private inspector: { url: string; redis: Redis } | undefined;

  private constructor(
    readonly sentinel: TestSentinelSet,
    readonly target: Target,
    readonly env: Record<string, string>,
    readonly runTmpDir: string,
    apiPorts: number[],
    workers: number,
  ) {
    this.prefix = env.QUEUE_PREFIX as string;
    this.apis = apiPorts.map((port, i) => ({ label: `api ${i}`, port, process: undefined }));
    this.workers = Array.from({ length: workers }, (_, i) => ({
      label: `worker ${i}`,
      port: 0,
      process: undefined,
    }));
  }

  static async start(options: {
    apis: number;
    workers: number;
    workerConcurrency: number;
  }): Promise<SoakStack> {
    const [sentinel, target] = await Promise.all([startSentinelSet(), startTarget()]);
    const runTmpDir = mkdtempSync(join(tmpdir(), "k6-gate-soak-"));
    const env = testEnv(sentinel.env.REDIS_URL as string, {
      ...sentinel.env,
      RUN_TMP_DIR: runTmpDir,
      WORKER_CONCURRENCY: String(options.workerConcurrency),
      // Crash recovery within seconds rather than the defaults' 25: a worker killed -9 loses
      // its jobs' locks after 8 s (renewed every 4 s: room for a busy 2-core machine), and
      // the next stalled-job check, every 2 s, hands them to another worker.
      LOCK_DURATION: "8s",
      STALLED_INTERVAL: "2s",
      RECONCILE_INTERVAL: "2s",
      // A stopping worker lets k6 run 3 s more, then hands the job back (long scripts are).
      SHUTDOWN_GRACE: "3s",
      KILL_GRACE: "2s",
      // The soak's logs are kept for replay; per-call info lines are what an SRE would read.
      LOG_LEVEL: "info",
    });
    const ports = await Promise.all(Array.from({ length: options.apis }, () => freePort()));
    const stack = new SoakStack(sentinel, target, env, runTmpDir, ports, options.workers);
    try {
      await Promise.all([
        ...stack.apis.map((_, i) => stack.restartApi(i)),
        ...stack.workers.map((_, i) => stack.restartWorker(i)),
      ]);
    } catch (error) {
      await stack.stop();
      throw error;
    }
    return stack;
  }

  /** Every API's base URL, dead or alive: what a Service lists while a pod restarts. */
  apiUrls(): string[] {
    return this.apis.map((slot) => `http://127.0.0.1:${slot.port}`);
  }

  async restartApi(index: number): Promise<ManagedProcess> {
    const slot = this.slot(this.apis, index);
    const api = await startApi(this.env, slot.port);
    this.started.push(api);
    slot.process = api;
    return api;
  }

  async restartWorker(index: number): Promise<ManagedProcess> {
    const slot = this.slot(this.workers, index);
    const worker = await startWorker(this.env);
    this.started.push(worker);
    slot.process = worker;
    return worker;
  }

  /** Pids of the workers alive now. */
  workerPids(): Set<number> {
    return new Set(this.workers.flatMap((slot) => (slot.process ? [slot.process.pid] : [])));
  }

  /** The name a worker records on the runs it starts (build.ts: `<hostname>-<pid>`). */
  static workerName(pid: number): string {
    return `${hostname()}-${pid}`;
  }

  /**
   * Runs `read` on the current primary (asking the sentinels which one that is), retrying
   * while a failover is under way; throws after `timeoutMs`.
   */
  async redis<T>(what: string, read: (redis: Redis) => Promise<T>, timeoutMs = 30_000): Promise<T> {
    const { value } = await waitFor(
      what,
      async () => {
        try {
          const redis = await this.primary();
          return { value: await read(redis) };
        } catch {
          this.inspector?.redis.disconnect();
          this.inspector = undefined;
          return undefined;
        }
      },
      { timeoutMs, everyMs: 200 },
    );
    return value;
  }

  private async primary(): Promise<Redis> {
    const url = await this.sentinel.primaryUrl();
    if (this.inspector?.url === url) return this.inspector.redis;
    this.inspector?.redis.disconnect();
    const redis = new Redis(url, {
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      commandTimeout: 3000,
      retryStrategy: () => null,
    });
    redis.on("error", () => undefined);
    this.inspector = { url, redis };
    return redis;
  }

  /**
   * The replication role ("master", "slave") each data server reports now (ROLE), by port;
   * a server that does not answer is left out.
   */
  async roles(): Promise<Map<number, string>> {
    const roles = new Map<number, string>();
    await Promise.all(
      this.sentinel.serverPorts.map(async (port) => {
        const redis = new Redis({
          host: "127.0.0.1",
          port,
          password: this.sentinel.password,
          lazyConnect: true,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          connectTimeout: 1000,
          commandTimeout: 1000,
          retryStrategy: () => null,
        });
        redis.on("error", () => undefined);
        try {
          await redis.connect();
          const [role] = (await redis.call("ROLE")) as [string];
          roles.set(port, role);
        } catch {
          // Down (killed, restarting): not a primary anyone can write to.
        } finally {
          redis.disconnect();
        }
      }),
    );
    return roles;
  }

  /** Each process's output (the last few MB) into `dir`, one file per process. */
  writeLogs(dir: string): void {
    mkdirSync(dir, { recursive: true });
    this.started.forEach((process, i) => {
      const name = /"msg":"api listening"/.test(process.output()) ? "api" : "worker";
      writeFileSync(
        join(dir, `${String(i).padStart(3, "0")}-${name}-${process.pid}.log`),
        process.output(),
      );
    });
    writeFileSync(join(dir, "redis-and-sentinels.log"), this.sentinel.output());
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.started.map((process) => process.stop("SIGKILL")));
    this.inspector?.redis.disconnect();
    await Promise.allSettled([this.sentinel.destroy(), this.target.close()]);
    rmSync(this.runTmpDir, { recursive: true, force: true });
  }

  private slot(slots: Slot[], index: number): Slot {
    const slot = slots[index];
    if (!slot) throw new Error(`no slot ${index}`);
    return slot;
  }
}
