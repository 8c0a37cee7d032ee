import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  createLogger,
  reconcileOnce,
  RUN_QUEUE,
  RunStore,
  type RetentionPolicy,
} from "@k6-gate/shared";
import { startRedis, type TestRedis } from "../support/redis";
import { createRun, passedResult, specOf } from "../support/run-fixtures";
import { inProcessApi } from "../security/in-process-api";

/**
 * RunStore's scripts against a real redis-server, each test on a fresh key prefix (as
 * BullMQ tests its commands): decisions, fencing, retention, and the reconciler.
 */
let redis: TestRedis;
let client: Redis;
let prefix: string;
let store: RunStore;
let queue: Queue;
const DAY = 24 * 3600 * 1000;
const logger = createLogger("test", "silent");

const storeWith = (retention: Partial<RetentionPolicy> = {}) =>
  new RunStore(client, prefix, {
    maxRunsPerCanary: 10,
    maxAgeMs: DAY,
    maxOutputsPerCanary: 10,
    ...retention,
  });

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  await queue?.close();
  client?.disconnect();
  await redis?.destroy();
});
beforeEach(async () => {
  await queue?.close();
  prefix = `test-${randomUUID().slice(0, 8)}`;
  store = storeWith();
  queue = new Queue(RUN_QUEUE, { connection: client, prefix });
});

describe("decide", () => {
  it("creates a queued run and returns its record, then attaches to it", async () => {
    const job = specOf({ name: "app", checksum: "rev-1" });
    const created = await createRun(store, job, 1000);
    expect(created).toMatchObject({ status: "queued", checksum: "rev-1", attempt: 0 });
    const again = await store.decide({ job, minFailureDelayMs: 0, maxQueueDepth: 100, now: 2000 });
    expect(again).toMatchObject({ action: "attach", run: { id: created.id } });
    expect(await store.job(created.id)).toEqual({ ...job, runId: created.id });
  });

  it("answers busy past the backlog limit, and writes nothing", async () => {
    await createRun(store, specOf({ name: "a", checksum: "1" }), 1000);
    const before = await client.keys(`${prefix}:*`);
    const busy = await store.decide({
      job: specOf({ name: "b", checksum: "1" }),
      minFailureDelayMs: 0,
      maxQueueDepth: 1,
      now: 2000,
    });
    expect(busy).toEqual({ action: "busy" });
    expect((await client.keys(`${prefix}:*`)).sort()).toEqual(before.sort());
  });
});

describe("fencing", () => {
  it("records the current attempt's verdict and output, and refuses a stale attempt's", async () => {
    const run = await createRun(store, specOf({ name: "app", checksum: "rev-1" }), 1000);
    await store.start(run.id, { attempt: 1, worker: "w1", attemptToken: "token-1" });
    // w1 froze past its lock; w2 took the run up.
    const second = await store.start(run.id, { attempt: 2, worker: "w2", attemptToken: "token-2" });
    expect(second).toMatchObject({ state: "started", run: { attempt: 2, worker: "w2" } });

    expect(await store.setLiveOutput(run.id, "token-1", "stale live output")).toBe(false);
    const stale = await store.finish(run.id, {
      result: { ...passedResult, reason: "attempt 1" },
      attemptToken: "token-1",
      output: "attempt 1 output",
    });
    expect(stale.state).toBe("stale");
    expect(await store.get(run.id)).toMatchObject({ status: "running", attempt: 2 });

    const winner = await store.finish(run.id, {
      result: { ...passedResult, reason: "attempt 2" },
      attemptToken: "token-2",
      output: "attempt 2 output",
    });
    expect(winner).toMatchObject({ state: "recorded", run: { reason: "attempt 2", attempt: 2 } });
    expect(await store.getOutput(run.id)).toBe("attempt 2 output");
    // Once judged, no attempt changes it.
    const late = await store.finish(run.id, { result: passedResult, attemptToken: "token-1" });
    expect(late.state).toBe("stale");
    const reconciled = await store.finish(run.id, { result: passedResult, attemptToken: "" });
    expect(reconciled.state).toBe("already");
    expect(await store.get(run.id)).toMatchObject({ reason: "attempt 2" });
  });

  it("hands a run back only from its current attempt", async () => {
    const run = await createRun(store, specOf({ name: "app", checksum: "rev-1" }), 1000);
    await store.start(run.id, { attempt: 1, worker: "w1", attemptToken: "token-1" });
    expect(await store.requeue(run.id, "token-0")).toBe(false);
    expect(await store.requeue(run.id, "token-1")).toBe(true);
    expect(await store.get(run.id)).toMatchObject({ status: "queued" });
  });
});

describe("retention", () => {
  it("prunes finished runs beyond the count, never a run in flight, and drops old outputs", async () => {
    store = storeWith({ maxRunsPerCanary: 2, maxOutputsPerCanary: 1 });
    const ids: string[] = [];
    for (const [i, checksum] of ["a", "b", "c"].entries()) {
      const run = await createRun(store, specOf({ name: "app", checksum }), 1000 + i);
      await store.finish(run.id, { result: passedResult, attemptToken: "", output: checksum });
      ids.push(run.id);
    }
    const running = await createRun(store, specOf({ name: "app", checksum: "d" }), 2000);
    await store.start(running.id, { attempt: 1, worker: "w", attemptToken: "t" });

    expect(await store.prune("ns", "app", 3000)).toBe(2);
    const kept = (await store.list("ns", "app")).map((run) => run.id);
    expect(kept).toEqual([running.id, ids[2]]);
    // Outputs are budgeted by position in the history: the running run is the newest one.
    expect(await store.getOutput(ids[2] as string)).toBeNull();
  });

  it("drops runs older than the retention age, and canaries with nothing left", async () => {
    const now = Date.now();
    const old = await createRun(store, specOf({ name: "aging", checksum: "old" }), now - 2 * DAY);
    await store.finish(old.id, { result: passedResult, attemptToken: "", now: now - 2 * DAY });
    const idle = await createRun(store, specOf({ name: "idle", checksum: "x" }), now - 3 * DAY);
    await store.finish(idle.id, { result: passedResult, attemptToken: "", now: now - 3 * DAY });
    const fresh = await createRun(store, specOf({ name: "aging", checksum: "new" }), now);
    await store.finish(fresh.id, { result: passedResult, attemptToken: "", now });

    expect(await store.prune("ns", "aging", now)).toBe(1);
    expect((await store.list("ns", "aging")).map((run) => run.checksum)).toEqual(["new"]);
    expect(await store.get(old.id)).toBeNull();
    const canaries = (await store.listCanaries()).map((c) => `${c.namespace}/${c.name}`);
    expect(canaries).toEqual(["ns/aging"]);
  });

  it("counts queued and running runs per canary, and forgets them once judged", async () => {
    const a = await createRun(store, specOf({ name: "busy", checksum: "a" }), 1000);
    const b = await createRun(store, specOf({ name: "busy", checksum: "b" }), 1000);
    const c = await createRun(store, specOf({ name: "other", checksum: "c" }), 1000);
    expect(await store.inFlight()).toEqual(
      new Map([
        ["ns/busy", { queued: 2, running: 0 }],
        ["ns/other", { queued: 1, running: 0 }],
      ]),
    );
    await store.start(a.id, { attempt: 1, worker: "w1", attemptToken: "t" });
    expect((await store.inFlight()).get("ns/busy")).toEqual({ queued: 1, running: 1 });
    await store.requeue(a.id, "t");
    expect((await store.inFlight()).get("ns/busy")).toEqual({ queued: 2, running: 0 });
    for (const run of [a, b, c]) {
      await store.start(run.id, { attempt: 1, worker: "w1", attemptToken: "t" });
      await store.finish(run.id, { result: passedResult, attemptToken: "t" });
    }
    expect((await store.inFlight()).size).toBe(0);
  });
});

describe("reconcile", () => {
  it("queues again a queued run whose job was never added (the API died in between)", async () => {
    const run = await createRun(store, specOf({ name: "app", checksum: "rev-1" }), Date.now());
    expect(await queue.getJobState(run.id)).toBe("unknown");
    expect(await reconcileOnce({ store, queue, logger })).toMatchObject({ requeued: 1 });
    const job = await queue.getJob(run.id);
    expect(job?.data).toEqual(await store.job(run.id));
    // Idempotent: a second pass finds the job there.
    expect(await reconcileOnce({ store, queue, logger })).toEqual({
      requeued: 0,
      ended: 0,
      forgotten: 0,
    });
  });

  it("ends a running run whose job is gone, with a reason, and wakes its callers", async () => {
    const run = await createRun(store, specOf({ name: "app", checksum: "rev-1" }), Date.now());
    await store.start(run.id, { attempt: 1, worker: "w1", attemptToken: "t" });
    expect(await reconcileOnce({ store, queue, logger })).toMatchObject({ ended: 1 });
    const ended = await store.get(run.id);
    expect(ended).toMatchObject({ status: "finished", verdict: "fail", outcome: "error" });
    expect(ended?.reason).toContain("its job is gone");
    expect(await store.queuedCount()).toBe(0);
  });

  it("forgets set members whose run record expired", async () => {
    const run = await createRun(store, specOf({ name: "app", checksum: "rev-1" }), Date.now());
    await client.del(`${prefix}:gate:run:${run.id}`);
    expect(await reconcileOnce({ store, queue, logger })).toMatchObject({ forgotten: 1 });
    expect(await store.queuedCount()).toBe(0);
  });
});

describe("listing canaries", () => {
  it("says how many canaries exist beyond a listing's limit, in the JSON, the page and /metrics", async () => {
    const api = await inProcessApi(redis.url, { METRICS_MAX_CANARIES: "2" });
    try {
      const apiStore = new RunStore(client, api.prefix, {
        maxRunsPerCanary: 10,
        maxAgeMs: DAY,
        maxOutputsPerCanary: 10,
      });
      for (const name of ["one", "two", "three"]) {
        await createRun(apiStore, specOf({ name, checksum: "rev-1" }), Date.now());
      }
      const listing = (await (await api.app.request("/api/canaries?limit=2")).json()) as {
        total: number;
        limit: number;
        canaries: unknown[];
      };
      expect(listing).toMatchObject({ total: 3, limit: 2 });
      expect(listing.canaries).toHaveLength(2);
      const page = await (await api.app.request("/?limit=2")).text();
      expect(page).toContain("Showing the 2 most recently run of 3 canaries");
      const metrics = await (await api.app.request("/metrics")).text();
      expect(metrics).toMatch(/^k6gate_canaries 3$/m);
    } finally {
      await api.close();
    }
  });
});
