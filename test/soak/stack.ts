import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "@k6-gate/testkit/ports";
import type { ManagedProcess } from "@k6-gate/testkit/process";
import { startSentinelSet, type TestSentinelSet } from "@k6-gate/testkit/redis-sentinel";
import { GateProcesses } from "@k6-gate/testkit/stack";
import { startTarget, type Target } from "@k6-gate/testkit/target";
import { waitFor } from "@k6-gate/testkit/wait";

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
  readonly prefix: string;
  private inspector: { url: string; redis: Redis } | undefined;

  private constructor(
    readonly sentinel: TestSentinelSet,
    readonly target: Target,
    /** `gate.started`: every process ever started, killed ones too (their logs: artifacts). */
    readonly gate: GateProcesses,
    readonly runTmpDir: string,
    apiPorts: number[],
    workers: number,
  ) {
    this.prefix = gate.env.QUEUE_PREFIX as string;
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
    const gate = new GateProcesses(sentinel.env.REDIS_URL as string, {
      ...sentinel.env,
      TMPDIR: runTmpDir,
      WORKER_CONCURRENCY: String(options.workerConcurrency),
      // Crash recovery within seconds rather than the defaults' 25: a worker killed -9 loses
      // its jobs' locks after 8 s (renewed every 4 s: room for a busy 2-core machine), and
      // the sweeps, every quarter of it (2 s), hand them to another worker.
      LOCK_DURATION: "8s",
      // A stopping worker lets k6 run 3 s more, then hands the job back (long scripts are).
      SHUTDOWN_GRACE: "3s",
      // The soak's logs are kept for replay; per-call info lines are what an SRE would read.
      LOG_LEVEL: "info",
    });
    const ports = await Promise.all(Array.from({ length: options.apis }, () => freePort()));
    const stack = new SoakStack(sentinel, target, gate, runTmpDir, ports, options.workers);
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
    const api = await this.gate.startApi({}, { port: slot.port });
    slot.process = api;
    return api;
  }

  async restartWorker(index: number): Promise<ManagedProcess> {
    const slot = this.slot(this.workers, index);
    const worker = await this.gate.startWorker();
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
    this.gate.started.forEach((process, i) => {
      const name = /"msg":"api listening"/.test(process.output()) ? "api" : "worker";
      writeFileSync(
        join(dir, `${String(i).padStart(3, "0")}-${name}-${process.pid}.log`),
        process.output(),
      );
    });
    writeFileSync(join(dir, "redis-and-sentinels.log"), this.sentinel.output());
  }

  async stop(): Promise<void> {
    await this.gate.stop("SIGKILL");
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
