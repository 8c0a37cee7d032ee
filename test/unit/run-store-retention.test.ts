import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { emptyMetrics, RunStore, type RunResult } from "@k6-gate/shared";
import { startRedis, type TestRedis } from "../support/redis";

let redis: TestRedis;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  client?.disconnect();
  await redis?.destroy();
});

const passed: RunResult = {
  verdict: "pass",
  outcome: "passed",
  reason: "ok",
  exitCode: 0,
  thresholds: [],
  metrics: emptyMetrics,
  cloudUrl: null,
  durationMs: 1,
};

it("prunes finished runs beyond the retention count but never a run in flight", async () => {
  const store = new RunStore(client, "retention", { maxRunsPerCanary: 1, maxAgeMs: 3_600_000 });
  const create = async (runKey: string, now: number) => {
    const decision = await store.decide({
      runKey,
      namespace: "test",
      name: "podinfo",
      checksum: runKey,
      phase: "Progressing",
      slackChannels: [],
      minFailureDelayMs: 0,
      maxQueueDepth: 100,
      now,
    });
    if (decision.action !== "created")
      throw new Error(`expected a new run, got ${decision.action}`);
    return decision.runId;
  };
  const finishedOld = await create("k-old", 1000);
  await store.finish(finishedOld, "k-old", passed);
  const queued = await create("k-queued", 2000);
  const running = await create("k-running", 3000);
  await store.markStarted(running, 1, "worker-a");
  const newest = await create("k-newest", 4000);
  await store.finish(newest, "k-newest", passed);

  expect(await store.prune("test", "podinfo", 5000)).toBe(1);
  expect((await store.list("test", "podinfo")).map((run) => run.id)).toEqual([
    newest,
    running,
    queued,
  ]);
  expect(await store.get(finishedOld)).toBeNull();
});
