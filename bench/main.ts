import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "@k6-gate/testkit/paths";
import type { TestRedis } from "@k6-gate/testkit/redis";
import { startStack } from "@k6-gate/testkit/stack";
import { capacity } from "./capacity";
import { cpuWindow } from "./cpu-window";
import { dashboardScale } from "./dashboard-scale";
import { dedup } from "./dedup";
import { footprint } from "./footprint";
import { longPollCapacity } from "./long-poll";
import { memory } from "./memory";
import { metricStream } from "./metric-stream";
import { describeMachine } from "./machine";
import { peerComparison, renderPeerDocument } from "./peer-document";
import { verdictOverhead } from "./overhead";
import { cpuOf, redisServerPid } from "./proc";
import { queueThroughput } from "./queue-throughput";
import { recovery } from "./recovery";
import { redisSizing } from "./redis-sizing";
import { waitForQuiet } from "./quiet";
import { renderDocument, type StandaloneRun, type SectionRun } from "./document";
import type { Section } from "./report";
import { scaling } from "./scaling";
import { tenants } from "./tenants";
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
  tenants,
  footprint,
};

/**
 * Benchmarks run only when named, each rewriting a document of its own instead of a
 * section of docs/benchmarks.md. `peer` needs the peer built (`make peer`) and runs in a
 * loopback-only network namespace: `make bench-peer`.
 */
const STANDALONE: Record<string, { bench: Benchmark; write: (document: StandaloneRun) => void }> = {
  peer: {
    bench: peerComparison,
    write: (document) =>
      writeFileSync(join(ROOT, "docs", "peer-comparison.md"), renderPeerDocument(document)),
  },
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
    if (!BENCHMARKS[name] && !STANDALONE[name])
      throw new Error(
        `no benchmark ${name}; have ${[...Object.keys(BENCHMARKS), ...Object.keys(STANDALONE)].join(", ")}`,
      );
  const selected: [string, Benchmark][] = [
    ...Object.entries(BENCHMARKS).filter(([name]) => !only.length || only.includes(name)),
    ...only.flatMap((name): [string, Benchmark][] => {
      const standalone = STANDALONE[name];
      return standalone ? [[name, standalone.bench]] : [];
    }),
  ];
  const machine = describeMachine();
  const runStarted = performance.now();
  // The harness's stack without k6-gate: each benchmark starts its own on this Redis.
  const services = await startStack({ api: false, workers: 0 });
  const { redis, target } = services;
  const runs = new Map<string, SectionRun>();
  try {
    for (const [name, bench] of selected) {
      const quiet = await waitForQuiet();
      console.log(
        `[bench] ${name} (machine ${quiet.busyPercent.toFixed(0)}% busy after waiting ${(quiet.waitedMs / 1000).toFixed(0)} s)...`,
      );
      // Reaped children count only once reaped: measure after the benchmark's processes exited.
      const window = cpuWindow(() => ourCpu(redis));
      const section = await bench({ redis, target });
      const cpu = window.stop();
      runs.set(name, { section, cpu, quiet });
      console.log(`\n## ${section.title}\n\n${section.body}\n`);
      console.log(`[bench] ${name} took ${(cpu.wallMs / 1000).toFixed(1)} s`);
    }
  } finally {
    await services.stop();
  }
  const totalS = (performance.now() - runStarted) / 1000;
  for (const [name, run] of runs) {
    const standalone = STANDALONE[name];
    if (!standalone) continue;
    standalone.write({ machine, run, totalS });
    console.log(`[bench] ${name}: wrote its document (${totalS.toFixed(0)} s in all)`);
  }
  if (only.length) return;
  const path = join(ROOT, "docs", "benchmarks.md");
  writeFileSync(path, renderDocument({ machine, runs: [...runs.values()], totalS }));
  console.log(`[bench] wrote ${path} (${totalS.toFixed(0)} s in all)`);
}

await main();
