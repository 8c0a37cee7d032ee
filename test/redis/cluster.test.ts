import { randomUUID } from "node:crypto";
import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunStore } from "@k6-gate/shared";
import { flaggerSemanticsScenarios } from "../scenarios/flagger-semantics";
import { foundationScenarios } from "../scenarios/foundation";
import { startRedisCluster, type TestRedisCluster } from "@k6-gate/testkit/redis-cluster";
import { onCluster } from "@k6-gate/testkit/redis-under-test";
import { createRun, passedResult, specOf } from "@k6-gate/testkit/run-fixtures";
import { waitFor } from "@k6-gate/testkit/wait";

/**
 * k6-gate on a Redis Cluster of three primaries (REDIS_CLUSTER=true, REDIS_URL the seed
 * node, QUEUE_PREFIX a hash tag): every RunStore script, then the webhook end to end and
 * one run per check, the same scenarios as on one redis-server.
 */
let cluster: TestRedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(async () => {
  await cluster?.destroy();
});

describe("on a Redis Cluster: RunStore's scripts", () => {
  it("runs each script in the one slot of the prefix's hash tag, and delivers what they publish", async () => {
    const prefix = `{test-${randomUUID().slice(0, 8)}}`;
    const client = new Cluster([{ host: "127.0.0.1", port: cluster.ports[0] as number }], {
      redisOptions: { password: cluster.password },
    });
    // As the API and the worker subscribe: a cluster connection of its own.
    const subscriber = client.duplicate();
    const heard: { channel: string; runId: string }[] = [];
    subscriber.on("message", (channel: string, message: string) => {
      const runId = channel.endsWith(":stop")
        ? (JSON.parse(message) as { runId: string }).runId
        : message;
      heard.push({ channel: channel.slice(channel.lastIndexOf(":") + 1), runId });
    });
    try {
      const store = new RunStore(client, prefix, {
        maxRunsPerCanary: 10,
        maxAgeMs: 60_000,
        maxOutputsPerCanary: 10,
      });
      await subscriber.subscribe(store.finishedChannel, store.stopChannel);
      const first = await createRun(store, specOf({ name: "app", checksum: "rev-1" }), 1000);
      const start = { worker: "w", maxRunsPerOwner: 2 };
      expect(await store.start(first.id, { ...start, attemptToken: "t1" })).toMatchObject({
        state: "started",
      });
      expect(await store.heartbeat(first.id, "t1")).toEqual({ state: "running" });
      expect(await store.setLiveOutput(first.id, "t1", "so far")).toBe(true);
      expect(
        await store.setK6Progress(first.id, "t1", { started: { at: 1500, expectedMs: 1000 } }),
      ).toBe(true);

      // A run a call waits on is kept (decision 41): its lease, set (by holdWaited, and by
      // DECIDE for the run it creates) and read in the slot.
      const lease = { holder: "api-1", leaseMs: 10_000 };
      await store.holdWaited([first.id], lease, 1000);
      const made = await store.decide({
        job: specOf({ name: "app", checksum: "made-up" }),
        minFailureDelayMs: 0,
        maxQueueDepth: 100,
        now: 1800,
        waiter: lease,
      });
      expect(made).toMatchObject({ action: "created", superseded: [] });
      if (made.action !== "created") throw new Error("not created");
      await store.cancel(made.run.id, { reason: "made up", by: "ops" });
      await store.releaseWaited(first.id, lease.holder);

      // A new revision supersedes the running run: DECIDE ends it by keys it builds from its id.
      const second = await store.decide({
        job: specOf({ name: "app", checksum: "rev-2" }),
        minFailureDelayMs: 0,
        maxQueueDepth: 100,
        now: 2000,
      });
      expect(second).toMatchObject({
        action: "created",
        superseded: [{ id: first.id, was: "running" }],
      });
      if (second.action !== "created") throw new Error("not created");
      expect(await store.heartbeat(first.id, "t1")).toMatchObject({ state: "ended" });
      await store.releaseSlot(first.id, "t1");

      const secondId = second.run.id;
      await store.start(secondId, { ...start, attemptToken: "t2" });
      expect(await store.requeue(secondId, "t2")).toBe(true);
      await store.start(secondId, { ...start, attemptToken: "t3" });
      expect(
        await store.finish(secondId, { result: passedResult, attemptToken: "t3", output: "done" }),
      ).toMatchObject({ state: "recorded", run: { verdict: "pass" } });
      expect(await store.getOutput(secondId)).toBe("done");

      const third = await createRun(store, specOf({ name: "other", checksum: "rev-1" }), 3000);
      expect(await store.cancel(third.id, { reason: "not needed", by: "ops" })).toMatchObject({
        state: "cancelled",
        was: "queued",
      });
      expect(await store.queuedCount()).toBe(0);
      expect(await store.inFlight()).toEqual(new Map());

      // PUBLISH inside a script reaches a subscriber on any node, in order.
      await waitFor("the scripts' messages", () => heard.length >= 5, { timeoutMs: 5000 });
      expect(heard).toEqual([
        { channel: "finished", runId: made.run.id },
        { channel: "finished", runId: first.id },
        { channel: "stop", runId: first.id },
        { channel: "finished", runId: secondId },
        { channel: "finished", runId: third.id },
      ]);

      // Every key the scripts wrote, named by the caller or built inside, is on one node.
      const perNode = await Promise.all(
        client.nodes("master").map((node) => node.keys(`${prefix}:*`)),
      );
      const holders = perNode.filter((keys) => keys.length > 0);
      expect(holders).toHaveLength(1);
      const keys = holders[0] as string[];
      expect(keys).toEqual(
        expect.arrayContaining([
          `${prefix}:gate:run:${first.id}`,
          `${prefix}:gate:key:key-app-rev-1`,
          `${prefix}:gate:waited:${made.run.id}`,
        ]),
      );
      const slot = await client.cluster("KEYSLOT", prefix);
      const slots = await Promise.all(keys.map((key) => client.cluster("KEYSLOT", key)));
      expect(new Set(slots)).toEqual(new Set([slot]));
    } finally {
      subscriber.disconnect();
      client.disconnect();
    }
  });
});

describe("on a Redis Cluster: the webhook end to end", () => {
  foundationScenarios(() => onCluster(cluster));
});

describe("on a Redis Cluster: Flagger's semantics", () => {
  flaggerSemanticsScenarios(() => onCluster(cluster));
});
