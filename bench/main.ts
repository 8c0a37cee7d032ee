import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../test/support/paths";
import { startRedis, type TestRedis } from "../test/support/redis";
import { startTarget } from "../test/support/target";
import { capacity } from "./capacity";
import { cpuWindow } from "./cpu-window";
import { dashboardScale } from "./dashboard-scale";
import { dedup } from "./dedup";
import { longPollCapacity } from "./long-poll";
import { memory } from "./memory";
import { metricStream } from "./metric-stream";
import { describeMachine } from "./machine";
import { verdictOverhead } from "./overhead";
import { cpuOf, redisServerPid } from "./proc";
import { queueThroughput } from "./queue-throughput";
import { recovery } from "./recovery";
import { redisSizing } from "./redis-sizing";
import { waitForQuiet } from "./quiet";
import { renderDocument, type SectionRun } from "./document";
import type { Section } from "./report";
import { scaling } from "./scaling";
import type { Services } from "./stack";

type Benchmark = (services: Services) => Promise<Section>;

const BENCHMARKS: Record<string, Benchmark> = {
  overhead: verdictOverhead,
  queue: queueThroughput,
  longpoll: longPollCapacity,
  scaling,
  dedup,
  memory,
  recovery,
  dashboard: dashboardScale,
  capacity,
  sizing: redisSizing,
  stream: metricStream,
};

/**
 * CPU of everything this run started: our own process, the API/worker/k6 processes it
 * started and reaped (counted into our children's time), and the shared redis-server.
 */
function ourCpu(redis: TestRedis): Record<string, number> {
  const { self, children } = cpuOf(process.pid);
  const redisPid = redisServerPid(redis.port);
  return { ours: self + children + (redisPid ? cpuOf(redisPid).self : 0) };
}

/**
 * `make bench`: every benchmark in turn, then docs/benchmarks.md. With benchmark names
 * as arguments (`npx tsx bench/main.ts overhead queue`), runs only those and prints
 * their sections without touching the document.
 */
async function main(): Promise<void> {
  const only = process.argv.slice(2);
  for (const name of only)
    if (!BENCHMARKS[name])
      throw new Error(`no benchmark ${name}; have ${Object.keys(BENCHMARKS).join(", ")}`);
  const machine = describeMachine();
  const runStarted = performance.now();
  const redis = await startRedis();
  const target = await startTarget();
  const runs: SectionRun[] = [];
  try {
    for (const [name, bench] of Object.entries(BENCHMARKS)) {
      if (only.length && !only.includes(name)) continue;
      const quiet = await waitForQuiet();
      console.log(
        `[bench] ${name} (machine ${quiet.busyPercent.toFixed(0)}% busy after waiting ${(quiet.waitedMs / 1000).toFixed(0)} s)...`,
      );
      // Reaped children count only once reaped: measure after the benchmark's processes exited.
      const window = cpuWindow(() => ourCpu(redis));
      const section = await bench({ redis, target });
      const cpu = window.stop();
      runs.push({ section, cpu, quiet });
      console.log(`\n## ${section.title}\n\n${section.body}\n`);
      console.log(`[bench] ${name} took ${(cpu.wallMs / 1000).toFixed(1)} s`);
    }
  } finally {
    await Promise.allSettled([redis.destroy(), target.close()]);
  }
  const totalS = (performance.now() - runStarted) / 1000;
  if (only.length) return;
  const path = join(ROOT, "docs", "benchmarks.md");
  writeFileSync(path, renderDocument({ machine, runs, totalS }));
  console.log(`[bench] wrote ${path} (${totalS.toFixed(0)} s in all)`);
}

await main();
