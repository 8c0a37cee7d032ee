import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { findRunId } from "../test/support/runs";
import { K6_BIN, ROOT } from "../test/support/paths";
import { freePort } from "../test/support/ports";
import { k6ProcessesOf, rssOf, sampler } from "../test/support/proc";
import { startProcess, type ManagedProcess } from "../test/support/process";
import { startRedis } from "../test/support/redis";
import { startTarget } from "../test/support/target";
import { waitFor } from "../test/support/wait";
import { closedLoop } from "./closed-loop";
import { launchTest } from "./http-client";
import { moduleCosts } from "./module-cost";
import { cpuOf, redisServerPid } from "./proc";
import { longRequestScript, oneRequestScript, sleepingScript } from "./scripts";
import { Stack, stubK6, type Services } from "./stack";
import { quantile } from "./stats";

/**
 * Where the time and memory of the targets docs/benchmarks.md misses go ("Targets not met,
 * and why"). Not part of `make bench`: each mode prints what it measured, on the container
 * form (`node dist/*.js`, `npm run build` first), CPU from /proc unless a profile is asked for.
 *
 *   npx tsx bench/profile.ts overhead [--long] [--cpu-prof] [--pidns]
 *       section 1's gated calls (short test, or the 2.5 s one), one after another: CPU per
 *       call of each process, Redis commands per call; with --cpu-prof, the API's and the
 *       worker's sampled time in each phase of section 1's table.
 *   npx tsx bench/profile.ts queue [--cpu-prof] [--node-flags="..."]
 *       section 2's load at 10 callers for 8 s: CPU and Redis commands per verdict; with
 *       --cpu-prof, where the first worker's and the API's sampled time goes.
 *   npx tsx bench/profile.ts memory [--node-flags="..."] [--pidns]
 *       section 6: idle API and worker (VmRSS split into anonymous and file-backed pages, the
 *       V8 heap), and the worker's peak while one 2 s k6 run goes.
 *   npx tsx bench/profile.ts hold [--node-flags="..."] [--harness]
 *       section 3's 1,000 held calls: the API's peak VmRSS and its V8 heap while holding.
 *   npx tsx bench/profile.ts modules zod,ioredis,...
 *       bench/module-cost.ts's probe with the libraries (or node: modules) in that order.
 *
 * --pidns runs the worker in a PID namespace of its own (`unshare --pid`, root only), so its
 * /proc lists its own processes only, as in a pod. --cpu-prof samples wall-clock ticks of the
 * main thread: on a busy machine a thread waiting for a CPU is counted where it waits, so its
 * figures are shares, not CPU time; and the profiler's own thread adds to /proc's CPU.
 */

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    long: { type: "boolean", default: false },
    "cpu-prof": { type: "boolean", default: false },
    pidns: { type: "boolean", default: false },
    harness: { type: "boolean", default: false },
    "node-flags": { type: "string", default: "" },
  },
});
const nodeFlags = options["node-flags"].split(" ").filter(Boolean);
const profileRoot = options["cpu-prof"] ? mkdtempSync(join(tmpdir(), "k6-gate-profile-")) : "";
const MB = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;
const perEach = (total: number, n: number) => (total / Math.max(1, n)).toFixed(2);

/** Now on the monotonic clock V8's profiles are stamped with (ms). */
const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;
/** A `Date.now()` stamp (the run record's milestones) on that clock. */
const monotonicOf = (epochMs: number) => epochMs - (Date.now() - monotonicMs());

interface App {
  process: ManagedProcess;
  /** The node process itself (under --pidns, the child of `unshare`). */
  pid: number;
  profileDir?: string;
}

/** `node <flags> dist/<app>.js` with the stack's environment, as Stack.startBundled does. */
async function startApp(
  stack: Stack,
  app: "api" | "worker",
  {
    env = {},
    profile = false,
    nodeArgs = [],
  }: { env?: Record<string, string>; profile?: boolean; nodeArgs?: string[] } = {},
): Promise<App> {
  const profileDir = profile && profileRoot ? join(profileRoot, `${app}-${Date.now()}`) : undefined;
  if (profileDir) mkdirSync(profileDir);
  const argv = [
    ...nodeFlags,
    ...nodeArgs,
    ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []),
    join(ROOT, "dist", `${app}.js`),
  ];
  const own = app === "worker" && options.pidns;
  const child = startProcess(
    own ? "unshare" : process.execPath,
    own ? ["--pid", "--fork", "--kill-child", "--mount-proc", process.execPath, ...argv] : argv,
    {
      name: app,
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...stack.env, ...env },
    },
  );
  await child.waitForOutput(app === "api" ? /api listening/ : /worker started/);
  const pid = own
    ? Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").split(" ")[0])
    : child.pid;
  return { process: child, pid, profileDir };
}

/** SIGTERM to node itself, so a profile is written, then to its wrapper. */
async function stopApps(apps: App[]): Promise<void> {
  for (const app of apps) {
    try {
      process.kill(app.pid, "SIGTERM");
    } catch {
      // gone already
    }
  }
  await Promise.allSettled(apps.map((app) => app.process.stop("SIGTERM", 15_000)));
}

/** Redis commands issued meanwhile, per unit (commands inside scripts counted too). */
function commandsPer(before: Record<string, number>, after: Record<string, number>, n: number) {
  const rows = Object.entries(after)
    .map(([name, calls]) => [name, (calls - (before[name] ?? 0)) / n] as const)
    .filter(([, calls]) => calls >= 0.5)
    .sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((sum, [, calls]) => sum + calls, 0);
  return `${total.toFixed(0)} (${rows
    .slice(0, 12)
    .map(([name, calls]) => `${name} ${calls.toFixed(1)}`)
    .join(", ")})`;
}

// --- .cpuprofile reading -------------------------------------------------------------

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}
interface Sample {
  /** Monotonic ms. */
  at: number;
  ms: number;
  /** Innermost first. */
  stack: ProfileNode[];
}

function readProfile(dir: string): Sample[] {
  const file = readdirSync(dir).find((name) => name.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no profile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const samples: Sample[] = [];
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    const stack: ProfileNode[] = [];
    for (let node: number | undefined = id; node !== undefined; node = parent.get(node)) {
      stack.push(byId.get(node) as ProfileNode);
    }
    if (stack[0]?.callFrame.functionName === "(idle)") return;
    samples.push({ at: at / 1000, ms: (profile.timeDeltas[i + 1] ?? 0) / 1000, stack });
  });
  return samples;
}

/** What a frame belongs to: an npm package, a Node module, the app's bundle, GC. */
function ownerOf({ callFrame: { functionName, url } }: ProfileNode): string {
  if (functionName === "(garbage collector)") return "GC";
  if (functionName === "(program)") return "V8 (outside JS)";
  if (!url) return `native ${functionName || "code"}`;
  const npm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (npm) return npm[1] as string;
  const node = /^node:(?:internal\/)?([^/]+)/.exec(url);
  if (node) return `node:${(node[1] as string).replace(/\.js$/, "")}`;
  return "k6-gate (dist)";
}

/** Sampled ms in [from, to) by owner of the innermost frame, largest first. */
function byOwner(samples: Sample[], from = -Infinity, to = Infinity): [string, number][] {
  const totals = new Map<string, number>();
  for (const { at, ms, stack } of samples) {
    if (at < from || at >= to) continue;
    const owner = ownerOf(stack[0] as ProfileNode);
    totals.set(owner, (totals.get(owner) ?? 0) + ms);
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

/** Sampled ms in [from, to) under each of `names` (functions, anywhere up the stack). */
function under(samples: Sample[], names: string[], from: number, to: number): [string, number][] {
  return names.map((name) => [
    name,
    samples
      .filter(({ at }) => at >= from && at < to)
      .filter(({ stack }) => stack.some((node) => node.callFrame.functionName === name))
      .reduce((sum, { ms }) => sum + ms, 0),
  ]);
}

const sum = (rows: [string, number][]) => rows.reduce((total, [, ms]) => total + ms, 0);
const top = (rows: [string, number][], n: number, per: number) =>
  rows
    .slice(0, 6)
    .map(([owner, ms]) => `${owner} ${perEach(ms, n / per)}`)
    .join(", ");

// --- modes --------------------------------------------------------------------------------

async function overhead(services: Services): Promise<void> {
  const calls = options.long ? 12 : 60;
  const script = (options.long ? longRequestScript : oneRequestScript)(services.target.port);
  const stack = new Stack(services, { K6_BIN });
  const apps: App[] = [];
  try {
    const port = await freePort();
    const api = await startApp(stack, "api", {
      env: { PORT: String(port), HOST: "127.0.0.1" },
      profile: true,
    });
    apps.push(api);
    const worker = await startApp(stack, "worker", { profile: true });
    apps.push(worker);
    let sequence = 0;
    const call = async () => {
      const response = await launchTest(`http://127.0.0.1:${port}`, {
        name: "overhead",
        checksum: `overhead-${++sequence}`,
        metadata: { script },
      });
      const run = await stack.store.get(findRunId(response.text) ?? "");
      if (response.status !== 200 || !run?.result || !run.startedAt || !run.k6StartedAt)
        throw new Error(`gate answered ${response.status}`);
      const sentAt = monotonicMs() - (performance.now() - response.sentAt);
      return {
        gateMs: response.ms,
        k6Ms: run.result.durationMs,
        milestones: [
          sentAt,
          monotonicOf(run.enqueuedAt),
          monotonicOf(run.startedAt),
          monotonicOf(run.k6StartedAt),
          // The worker's k6 time opens just before the spawn (script written), so this
          // boundary is late by that, under a millisecond.
          monotonicOf(run.k6StartedAt) + run.result.durationMs,
          monotonicOf(run.finishedAt ?? 0),
          sentAt + response.ms,
        ],
      };
    };
    for (let i = 0; i < 3; i++) await call();
    const redisPid = redisServerPid(services.redis.port) ?? -1;
    const cpu = () => ({ api: cpuOf(api.pid), worker: cpuOf(worker.pid), redis: cpuOf(redisPid) });
    const [before, commandsBefore] = [cpu(), await stack.redisCalls()];
    const samples: Awaited<ReturnType<typeof call>>[] = [];
    for (let i = 0; i < calls; i++) samples.push(await call());
    const [after, commandsAfter] = [cpu(), await stack.redisCalls()];
    const overheads = samples.map((s) => s.gateMs - s.k6Ms);
    console.log(
      `${calls} gated calls, ${options.long ? "2.5 s" : "short"} test${options.pidns ? ", worker in its own PID namespace" : ""}: gate - own k6 median ${quantile(overheads, 0.5).toFixed(1)} ms, p95 ${quantile(overheads, 0.95).toFixed(1)} ms`,
    );
    console.log(
      `CPU per call (/proc, ms): API ${perEach(after.api.self - before.api.self, calls)}, worker ${perEach(after.worker.self - before.worker.self, calls)}, its k6 (and setpriv) ${perEach(after.worker.children - before.worker.children, calls)}, redis-server ${perEach(after.redis.self - before.redis.self, calls)}`,
    );
    console.log(
      `Redis commands per call (the harness's HGETALL and INFO included): ${commandsPer(commandsBefore, commandsAfter, calls)}`,
    );
    await stopApps(apps);
    if (!profileRoot) return;
    const profiles = {
      API: readProfile(api.profileDir ?? ""),
      worker: readProfile(worker.profileDir ?? ""),
    };
    const phases = [
      "POST sent -> run decided",
      "run decided -> worker marks it started",
      "worker started -> `k6 run` spawned",
      "`k6 run` spawned -> spawn + the worker's k6 time (k6 runs)",
      "-> verdict recorded (summary read, judging, FINISH sent)",
      "verdict recorded -> response read by caller",
    ];
    phases.forEach((phase, i) => {
      const walls = samples.map(
        (s) => (s.milestones[i + 1] as number) - (s.milestones[i] as number),
      );
      console.log(`${phase}: wall median ${quantile(walls, 0.5).toFixed(1)} ms`);
      for (const [name, profile] of Object.entries(profiles)) {
        const rows: [string, number][] = [];
        for (const s of samples) {
          for (const [owner, ms] of byOwner(profile, s.milestones[i], s.milestones[i + 1])) {
            const row = rows.find(([o]) => o === owner);
            if (row) row[1] += ms;
            else rows.push([owner, ms]);
          }
        }
        rows.sort((a, b) => b[1] - a[1]);
        console.log(
          `  ${name} sampled ${perEach(sum(rows), calls)} ms/call: ${top(rows, calls, 1)}`,
        );
      }
    });
  } finally {
    await stopApps(apps);
    await stack.stop();
  }
}

async function queue(services: Services): Promise<void> {
  const stack = new Stack(services, { K6_BIN: stubK6() });
  const apps: App[] = [];
  try {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const api = await startApp(stack, "api", {
      env: { PORT: String(port), HOST: "127.0.0.1", MAX_QUEUE_DEPTH: "1000" },
      profile: true,
    });
    apps.push(api);
    for (let i = 0; i < 2; i++) {
      apps.push(
        await startApp(stack, "worker", { env: { WORKER_CONCURRENCY: "50" }, profile: i === 0 }),
      );
    }
    const script = oneRequestScript(services.target.port);
    await closedLoop(url, { callers: 10, durationMs: 2000, script, tag: "warmup" });
    const redisPid = redisServerPid(services.redis.port) ?? -1;
    const cpu = () => ({
      api: cpuOf(api.pid).self,
      workers: apps.slice(1).reduce((total, w) => total + cpuOf(w.pid).self, 0),
      children: apps.slice(1).reduce((total, w) => total + cpuOf(w.pid).children, 0),
      redis: cpuOf(redisPid).self,
      generator: cpuOf(process.pid).self,
    });
    const [before, commandsBefore, from] = [cpu(), await stack.redisCalls(), monotonicMs()];
    const result = await closedLoop(url, { callers: 10, durationMs: 8000, script, tag: "c10" });
    const [after, commandsAfter, to] = [cpu(), await stack.redisCalls(), monotonicMs()];
    const n = result.latencies.length;
    console.log(
      `10 callers, 8 s${nodeFlags.length ? `, node ${nodeFlags.join(" ")}` : ""}: ${n} verdicts (${((n / result.elapsedMs) * 1000).toFixed(0)}/s). CPU per verdict (/proc, ms): API ${perEach(after.api - before.api, n)}, workers ${perEach(after.workers - before.workers, n)}, their stub k6 (and setpriv) ${perEach(after.children - before.children, n)}, redis-server ${perEach(after.redis - before.redis, n)}, load generator ${perEach(after.generator - before.generator, n)}`,
    );
    console.log(`Redis commands per verdict: ${commandsPer(commandsBefore, commandsAfter, n)}`);
    await stopApps(apps);
    if (!profileRoot) return;
    const worker = readProfile(apps[1]?.profileDir ?? "");
    const busy = sum(byOwner(worker, from, to));
    const share = (ms: number) => `${((ms / busy) * 100).toFixed(0)}%`;
    console.log(
      `worker 1, sampled (not idle) ${busy.toFixed(0)} ms in ${(to - from).toFixed(0)} ms; under each (inclusive): ${under(
        worker,
        [
          "runK6",
          "spawn",
          "makeRunDir",
          "rm",
          "prune",
          "summariesOf",
          "start",
          "finish",
          "processJob",
          "LOG",
        ],
        from,
        to,
      )
        .map(([name, ms]) => `${name} ${share(ms)}`)
        .join(", ")}; GC ${share(sum(byOwner(worker, from, to).filter(([o]) => o === "GC")))}`,
    );
    const apiRows = byOwner(readProfile(api.profileDir ?? ""), from, to);
    console.log(
      `API, sampled ${sum(apiRows).toFixed(0)} ms: ${apiRows
        .slice(0, 8)
        .map(([owner, ms]) => `${owner} ${((ms / sum(apiRows)) * 100).toFixed(0)}%`)
        .join(", ")}`,
    );
  } finally {
    await stopApps(apps);
    await stack.stop();
  }
}

/** Writes process.memoryUsage() and V8's heap spaces to $K6GATE_MEMORY_OUT on SIGUSR2. */
const MEMORY_PRELOAD = `data:text/javascript,${encodeURIComponent(
  'import { writeFileSync } from "node:fs"; import v8 from "node:v8";' +
    'process.on("SIGUSR2", () => writeFileSync(process.env.K6GATE_MEMORY_OUT, JSON.stringify({' +
    "usage: process.memoryUsage(), spaces: v8.getHeapSpaceStatistics() })));",
)}`;

interface HeapSpace {
  space_name: string;
  space_size: number;
  space_used_size: number;
}

/** VmRSS with its anonymous and file-backed parts, and the V8 heap, of an app started with MEMORY_PRELOAD. */
async function memoryOf(pid: number, out: string): Promise<string> {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status)?.[1]) * 1024;
  process.kill(pid, "SIGUSR2");
  const { usage, spaces } = await waitFor("memory written", () => {
    try {
      return JSON.parse(readFileSync(out, "utf8")) as {
        usage: NodeJS.MemoryUsage;
        spaces: HeapSpace[];
      };
    } catch {
      return undefined; // not written yet
    }
  });
  rmSync(out);
  const space = (name: string) => spaces.find((s) => s.space_name === name);
  const young = space("new_space");
  return `VmRSS ${MB(kb("VmRSS"))} (anonymous ${MB(kb("RssAnon"))}, file-backed ${MB(kb("RssFile"))}); V8 heap ${MB(usage.heapTotal)} committed, ${MB(usage.heapUsed)} used; young generation ${MB(young?.space_size ?? 0)} committed, ${MB(young?.space_used_size ?? 0)} used`;
}

async function memory(services: Services): Promise<void> {
  const stack = new Stack(services, { K6_BIN });
  const dir = mkdtempSync(join(tmpdir(), "k6-gate-memory-"));
  const apps: App[] = [];
  try {
    const port = await freePort();
    const nodeArgs = ["--import", MEMORY_PRELOAD];
    const api = await startApp(stack, "api", {
      env: { PORT: String(port), HOST: "127.0.0.1", K6GATE_MEMORY_OUT: join(dir, "api.json") },
      nodeArgs,
    });
    apps.push(api);
    const worker = await startApp(stack, "worker", {
      env: { K6GATE_MEMORY_OUT: join(dir, "worker.json") },
      nodeArgs,
    });
    apps.push(worker);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const flags = nodeFlags.length ? `node ${nodeFlags.join(" ")}` : "no node flags";
    console.log(`API idle (${flags}): ${await memoryOf(api.pid, join(dir, "api.json"))}`);
    console.log(
      `worker idle (${flags}${options.pidns ? ", own PID namespace" : ""}): ${await memoryOf(worker.pid, join(dir, "worker.json"))}`,
    );
    const rss = sampler(
      () => ({
        worker: rssOf(worker.pid) ?? 0,
        k6: k6ProcessesOf(new Set([worker.pid])).length,
      }),
      50,
    );
    const response = await launchTest(`http://127.0.0.1:${port}`, {
      name: "memory",
      checksum: `memory-${Date.now()}`,
      metadata: { script: sleepingScript(services.target.port, 2), wait_timeout: "60s" },
    });
    const whileK6 = rss.stop().filter((s) => s.k6 > 0);
    if (response.status !== 200) throw new Error(`canary answered ${response.status}`);
    console.log(
      `worker peak while a 2 s k6 run goes: ${MB(Math.max(0, ...whileK6.map((s) => s.worker)))}`,
    );
  } finally {
    await stopApps(apps);
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function hold(services: Services): Promise<void> {
  const calls = 1000;
  const stack = new Stack(services, { K6_BIN: stubK6() });
  const dir = mkdtempSync(join(tmpdir(), "k6-gate-memory-"));
  const out = join(dir, "api.json");
  const port = await freePort();
  const entry = options.harness
    ? ["--import", "tsx", join(ROOT, "apps", "api", "src", "main.ts")]
    : [join(ROOT, "dist", "api.js")];
  const api = startProcess(process.execPath, [...nodeFlags, "--import", MEMORY_PRELOAD, ...entry], {
    name: "api",
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...stack.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      MAX_QUEUE_DEPTH: String(calls * 2),
      K6GATE_MEMORY_OUT: out,
    },
  });
  try {
    await api.waitForOutput(/api listening/);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idle = rssOf(api.pid) ?? 0;
    const script = oneRequestScript(services.target.port);
    const cpuBefore = cpuOf(api.pid).self;
    for (let i = 0; i < calls; i++) {
      launchTest(`http://127.0.0.1:${port}`, {
        name: `long-poll-${i}`,
        checksum: `hold-${i}`,
        metadata: { script, wait_timeout: "5m" },
      }).catch(() => undefined);
    }
    await waitFor("every call enqueued", async () => (await stack.waitingJobs()) === calls, {
      timeoutMs: 60_000,
    });
    const attachCpu = cpuOf(api.pid).self - cpuBefore;
    const rss = sampler(() => rssOf(api.pid) ?? 0, 100);
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const peak = Math.max(...rss.stop());
    console.log(
      `${options.harness ? "harness form (node --import tsx)" : "container form (node dist/api.js)"}${nodeFlags.length ? `, node ${nodeFlags.join(" ")}` : ""}: idle VmRSS ${MB(idle)}; attaching ${calls} calls took ${attachCpu} ms of API CPU; holding them, peak VmRSS ${MB(peak)}, now ${await memoryOf(api.pid, out)}`,
    );
  } finally {
    await api.stop("SIGKILL", 1000);
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const [mode, list] = positionals;
  if (mode === "modules") {
    const costs = moduleCosts((list ?? "").split(",").filter(Boolean));
    console.log(
      costs.map(([name, bytes]) => `${name} ${(bytes / 1024 / 1024).toFixed(1)} MB`).join(", "),
    );
    return;
  }
  const modes: Record<string, (services: Services) => Promise<void>> = {
    overhead,
    queue,
    memory,
    hold,
  };
  const run = modes[mode ?? ""];
  if (!run) throw new Error(`usage: profile.ts ${Object.keys(modes).join("|")}|modules [options]`);
  const redis = await startRedis();
  const target = await startTarget();
  try {
    await run({ redis, target });
  } finally {
    await Promise.allSettled([redis.destroy(), target.close()]);
    if (profileRoot) rmSync(profileRoot, { recursive: true, force: true });
  }
}

await main();
