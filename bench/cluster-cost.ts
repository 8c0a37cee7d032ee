import { startApi, startWorker, type ApiProcess } from "@k6-gate/testkit/k6gate";
import type { ManagedProcess } from "@k6-gate/testkit/process";
import { startRedis } from "@k6-gate/testkit/redis";
import { startRedisCluster } from "@k6-gate/testkit/redis-cluster";
import { onCluster, onServer, type RedisUnderTest } from "@k6-gate/testkit/redis-under-test";
import { launchTest } from "./http-client";
import { waitForQuiet } from "./quiet";
import { stubK6 } from "./stack";
import { ms, summarize } from "./stats";

/**
 * What a Redis Cluster costs a call (decision 10): one API and one worker (stub k6) on one
 * redis-server and the same on a 3-primary cluster, both on 127.0.0.1, called in turn so
 * drift in the machine hits both alike. Measures the run decision (`wait_for_results:
 * false`: DECIDE + the BullMQ job, answered 202) and the whole verdict round trip (200).
 * `npx tsx bench/cluster-cost.ts [decisions] [verdicts]`; prints a table, asserts nothing.
 */
const [DECISIONS = 200, VERDICTS = 100] = process.argv.slice(2).map(Number);
const WARMUP = 10;

async function stackOn(redis: RedisUnderTest, k6: string) {
  const env = redis.env({ K6_BIN: k6, LOG_LEVEL: "info", MAX_QUEUE_DEPTH: "10000" });
  const api: ApiProcess = await startApi(env);
  const worker: ManagedProcess = await startWorker(env);
  let n = 0;
  const call = async (wait: boolean) => {
    const i = ++n;
    const response = await launchTest(api.url, {
      // A namespace per decision: each DECIDE sees one queued run of its namespace.
      namespace: wait ? "verdicts" : `ns-${i}`,
      checksum: `rev-${i}`,
      metadata: { script: "export default function () {}", wait_for_results: String(wait) },
    });
    if (response.status !== (wait ? 200 : 202)) throw new Error(`answered ${response.status}`);
    return response.ms;
  };
  return { call, stop: () => Promise.all([api.stop(), worker.stop()]) };
}

const server = await startRedis();
const cluster = await startRedisCluster();
const k6 = stubK6();
const stacks = {
  "one redis-server": await stackOn(onServer(server), k6),
  "Redis Cluster (3 primaries)": await stackOn(onCluster(cluster), k6),
};
try {
  const quiet = await waitForQuiet();
  const samples = new Map(
    Object.keys(stacks).map((name) => [
      name,
      { decision: [] as number[], verdict: [] as number[] },
    ]),
  );
  const entries = Object.entries(stacks);
  for (const [kind, count] of [
    ["verdict", VERDICTS],
    ["decision", DECISIONS],
  ] as const) {
    for (let i = 0; i < WARMUP + count; i++) {
      // Alternate which goes first.
      for (const [name, stack] of i % 2 ? [...entries].reverse() : entries) {
        const took = await stack.call(kind === "verdict");
        if (i >= WARMUP) samples.get(name)?.[kind].push(took);
      }
    }
  }
  console.log(`machine busy before: ${quiet.busyPercent.toFixed(0)}% of a core`);
  console.log("| Redis | decision (202) median | p95 | verdict (200, stub k6) median | p95 |");
  console.log("|---|---|---|---|---|");
  for (const [name, { decision, verdict }] of samples) {
    const [d, v] = [summarize(decision), summarize(verdict)];
    console.log(`| ${name} | ${ms(d.median)} | ${ms(d.p95)} | ${ms(v.median)} | ${ms(v.p95)} |`);
  }
} finally {
  await Promise.allSettled(Object.values(stacks).map((stack) => stack.stop()));
  await Promise.allSettled([server.destroy(), cluster.destroy()]);
}
