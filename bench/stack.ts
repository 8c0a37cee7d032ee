import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { RUN_QUEUE, RunStore } from "@k6-gate/shared";
import { cpuOf, redisServerPid } from "./proc";
import { harnessNodeOptions, listeningPort } from "@k6-gate/testkit/k6gate";
import { ROOT } from "@k6-gate/testkit/paths";
import { startProcess, type ManagedProcess } from "@k6-gate/testkit/process";
import type { TestRedis } from "@k6-gate/testkit/redis";
import { GateProcesses } from "@k6-gate/testkit/stack";
import type { Target } from "@k6-gate/testkit/target";

/** What every benchmark shares: one redis-server and one HTTP target, both on 127.0.0.1. */
export interface Services {
  redis: TestRedis;
  target: Target;
}

/**
 * One benchmark's k6-gate: an API and workers on a fresh queue prefix, started with the
 * test harness (libs/testkit: real OS processes, as `npm run api` / `npm run worker` start
 * them), and what benchmarks read beside them.
 */
export class Stack extends GateProcesses {
  private readonly redis: Redis;
  /** Reads run records (timestamps, k6 duration) after the fact, straight from Redis. */
  readonly store: RunStore;

  constructor(
    private readonly services: Services,
    env: Record<string, string>,
  ) {
    // Production log level: the per-call info lines are part of the cost measured.
    super(services.redis.url, { LOG_LEVEL: "info", ...env });
    this.redis = new Redis(services.redis.url, { lazyConnect: true });
    this.store = new RunStore(this.redis, this.env.QUEUE_PREFIX as string, {
      maxRunsPerCanary: 10_000,
      maxAgeMs: 3_600_000,
      maxOutputsPerCanary: 10_000,
    });
  }

  /**
   * The production form instead of the harness's `node --import tsx`: `node dist/<app>.js`,
   * the bundle the container runs (`npm run build`), with the image's NODE_OPTIONS. Same
   * code; no TypeScript loader in memory. `all` (the API and a worker in one process) is
   * both the stack's API and its one worker.
   */
  async startBundled(
    app: "api" | "worker" | "all",
    extra: Record<string, string> = {},
  ): Promise<ManagedProcess> {
    const entry = join(ROOT, "dist", `${app}.js`);
    if (!existsSync(entry))
      throw new Error(`${entry} missing: run \`npm run build\` (make bench does)`);
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_OPTIONS: harnessNodeOptions(),
      ...this.env,
      ...extra,
    };
    const child = startProcess(process.execPath, [entry], {
      name: `bundled ${app}`,
      cwd: ROOT,
      env: app === "worker" ? env : { ...env, PORT: "0", HOST: "127.0.0.1" },
    });
    if (app !== "worker") {
      const port = await listeningPort(child);
      this.api = { ...child, port, url: `http://127.0.0.1:${port}` };
    }
    if (app !== "api") {
      if (app === "worker") this.workers.push(child);
      await child.waitForOutput(/worker started/);
    }
    return child;
  }

  /**
   * CPU time used so far (ms) by each process: the API, each worker with the k6 (or stub)
   * processes it has reaped, redis-server, and this load generator.
   */
  cpu(): Record<string, number> {
    const total = (pid: number) => {
      const { self, children } = cpuOf(pid);
      return self + children;
    };
    const redisPid = redisServerPid(this.services.redis.port);
    return {
      api: this.api ? cpuOf(this.api.pid).self : 0,
      ...Object.fromEntries(this.workers.map((w, i) => [`worker ${i + 1}`, total(w.pid)])),
      "redis-server": redisPid ? cpuOf(redisPid).self : 0,
      "load generator": cpuOf(process.pid).self,
    };
  }

  /**
   * Jobs enqueued and not yet taken by a worker: BullMQ's wait list, and its prioritized
   * set, where jobs with a priority (every run since fair sharing, decision 34) wait.
   */
  async waitingJobs(): Promise<number> {
    const queue = `${this.env.QUEUE_PREFIX}:${RUN_QUEUE}`;
    const [waiting, prioritized] = await Promise.all([
      this.redis.llen(`${queue}:wait`),
      this.redis.zcard(`${queue}:prioritized`),
    ]);
    return waiting + prioritized;
  }

  /** Runs counted as queued or running (k6-gate's own sets, whichever BullMQ list holds them). */
  async runsInFlight(): Promise<number> {
    const gate = `${this.env.QUEUE_PREFIX}:gate`;
    const [queued, running] = await Promise.all([
      this.redis.scard(`${gate}:queued`),
      this.redis.scard(`${gate}:running`),
    ]);
    return queued + running;
  }

  /** Calls so far per Redis command (INFO commandstats), e.g. { hgetall: 1234 }. */
  async redisCalls(): Promise<Record<string, number>> {
    const info = await this.redis.info("commandstats");
    return Object.fromEntries(
      [...info.matchAll(/^cmdstat_(\S+?):calls=(\d+)/gm)].map((m) => [m[1] ?? "", Number(m[2])]),
    );
  }

  override async stop(): Promise<void> {
    await super.stop();
    this.redis.disconnect();
  }
}

/** Runs `fn` on a fresh Stack and always stops its processes. */
export async function withStack<T>(
  services: Services,
  env: Record<string, string>,
  fn: (stack: Stack) => Promise<T>,
): Promise<T> {
  const stack = new Stack(services, env);
  try {
    return await fn(stack);
  } finally {
    await stack.stop();
  }
}

const ITERATION_METRIC = JSON.stringify({
  type: "Metric",
  metric: "iterations",
  data: { type: "counter", thresholds: [] },
});
const ITERATION_POINT = JSON.stringify({
  type: "Point",
  metric: "iterations",
  data: { time: "2026-01-01T00:00:00Z", value: 1, tags: null },
});

/**
 * A K6_BIN that does the least a k6 can for a passing verdict: `inspect` prints a one-second
 * expected duration, `version` a version (read once per worker), `run` writes one completed iteration to the metric stream and exits 0. What
 * is left to measure is API + Redis + queue + worker + process spawns.
 */
export function stubK6(): string {
  const dir = mkdtempSync(join(tmpdir(), "k6-gate-bench-stub-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, "k6");
  writeFileSync(
    bin,
    [
      "#!/bin/sh",
      'if [ "$1" = inspect ]; then echo \'{"totalDuration":"1s","maxVUs":1}\'; exit 0; fi',
      'if [ "$1" = version ]; then echo \'{"version":"v0.0.0-stub"}\'; exit 0; fi',
      // The verdict reads k6's metric stream, the file `--out json=<path>` names.
      'for arg; do case "$arg" in json=*) out="${arg#json=}";; esac; done',
      `printf '%s\\n' '${ITERATION_METRIC}' '${ITERATION_POINT}' > "$out"`,
      "exit 0",
      "",
    ].join("\n"),
  );
  chmodSync(bin, 0o755);
  return bin;
}
