import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunStore, type RunResult } from "@k6-gate/shared";
import { createRun, passedResult, specOf } from "@k6-gate/testkit/run-fixtures";
import { useStack } from "@k6-gate/testkit/use-stack";

/**
 * Lists read runs' figures, stored beside the result when the verdict is recorded, and
 * derive them from the result for runs that have none (recorded before figures existed).
 */
const stack = useStack({ api: false, workers: 0 });
let client: Redis;
let store: RunStore;
let prefix: string;

beforeAll(async () => {
  client = new Redis(stack.redis.url);
  prefix = `test-${randomUUID().slice(0, 8)}`;
  store = new RunStore(client, prefix, {
    maxRunsPerCanary: 10,
    maxAgeMs: 3_600_000,
    maxOutputsPerCanary: 10,
  });
});
afterAll(async () => {
  client?.disconnect();
});

const result = (p95: number): RunResult => ({
  ...passedResult,
  thresholds: [{ metric: "http_req_duration", expression: "p(95)<500", ok: true, observed: p95 }],
  metrics: { ...passedResult.metrics, httpReqDurationP95: p95 },
  stats: { "http_req_duration:p(95)": p95 },
  testDigest: "digest",
});

async function judged(name: string, checksum: string, p95: number, at: number) {
  const run = await createRun(store, specOf({ name, checksum }), at);
  await store.start(run.id, { worker: "w", attemptToken: "t", now: at + 1 });
  await store.finish(run.id, { result: result(p95), attemptToken: "t", now: at + 2 });
  return run.id;
}

describe("run summaries", () => {
  it("carry the figures of the result, not its thresholds, newest first", async () => {
    const older = await judged("shop", "rev-1", 40, 1000);
    const newer = await judged("shop", "rev-2", 50, 2000);
    const queued = await createRun(store, specOf({ name: "shop", checksum: "rev-3" }), 3000);
    const summaries = await store.summaries("ns", "shop");
    expect(summaries.map((run) => run.id)).toEqual([queued.id, newer, older]);
    expect(summaries[0]).toMatchObject({ status: "queued", verdict: null, result: null });
    expect(summaries[1]).toMatchObject({
      checksum: "rev-2",
      status: "finished",
      verdict: "pass",
      outcome: "passed",
      result: { stats: { "http_req_duration:p(95)": 50 }, testDigest: "digest" },
    });
    expect(summaries[1]?.result).not.toHaveProperty("thresholds");
  });

  it("derive the figures from the result of a run recorded without them", async () => {
    const id = await judged("legacy", "rev-1", 60, 1000);
    await client.hdel(`${prefix}:gate:run:${id}`, "figures");
    const [summary] = await store.summaries("ns", "legacy");
    expect(summary?.result?.metrics.httpReqDurationP95).toBe(60);
  });

  it("for many canaries come back per canary, in the order asked", async () => {
    await judged("a", "rev-1", 10, 1000);
    await judged("b", "rev-1", 20, 1000);
    const lists = await store.summariesOfCanaries(
      [
        { namespace: "ns", name: "b" },
        { namespace: "ns", name: "nothing" },
        { namespace: "ns", name: "a" },
      ],
      5,
    );
    expect(lists.map((runs) => runs.map((run) => run.result?.metrics.httpReqDurationP95))).toEqual([
      [20],
      [],
      [10],
    ]);
  });

  it("for many canaries are each canary's `summaries`, a run whose record is gone left out", async () => {
    await judged("c", "rev-1", 30, 1000);
    const gone = await judged("c", "rev-2", 31, 2000);
    await judged("c", "rev-3", 32, 3000);
    await createRun(store, specOf({ name: "c", checksum: "rev-4" }), 4000);
    const legacy = await judged("d", "rev-1", 40, 1000);
    await client.hdel(`${prefix}:gate:run:${legacy}`, "figures");
    await client.del(`${prefix}:gate:run:${gone}`);
    const canaries = [
      { namespace: "ns", name: "c" },
      { namespace: "ns", name: "d" },
    ];
    for (const limit of [1, 3, 40]) {
      const each = await Promise.all(
        canaries.map(({ namespace, name }) => store.summaries(namespace, name, limit)),
      );
      expect(await store.summariesOfCanaries(canaries, limit)).toEqual(each);
    }
    const [c] = await store.summariesOfCanaries(canaries, 40);
    expect(c?.map((run) => run.checksum)).toEqual(["rev-4", "rev-3", "rev-1"]);
  });
});
