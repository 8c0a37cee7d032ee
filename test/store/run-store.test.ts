import { randomUUID } from "node:crypto";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  createLogger,
  enqueueRun,
  reconcileOnce,
  RUN_QUEUE,
  inputsOf,
  RunDetailsStore,
  RunStore,
  scriptDigestOf,
  type RetentionPolicy,
} from "@k6-gate/shared";
import { createRun, passedResult, specOf } from "@k6-gate/testkit/run-fixtures";
import { inProcessApi } from "../security/in-process-api";
import { waitFor } from "@k6-gate/testkit/wait";
import { useStack } from "@k6-gate/testkit/use-stack";

/**
 * RunStore's scripts against a real redis-server, each test on a fresh key prefix (as
 * BullMQ tests its commands): decisions, fencing, retention, and the reconciler.
 */
const stack = useStack({ api: false, workers: 0 });
let client: Redis;
/** The default user: KEYS is not one of k6-gate's commands (client is its ACL user). */
let admin: Redis;
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
  client = new Redis(stack.redis.url);
  admin = new Redis(stack.redis.adminUrl);
});
afterAll(async () => {
  await queue?.close();
  client?.disconnect();
  admin?.disconnect();
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

  it("reads a record whose status it does not know as an error naming the run, not as queued", async () => {
    const run = await createRun(store, specOf({ name: "app", checksum: "rev-1" }), 1000);
    // Numbers as the scripts write them, a fraction included (a scenario of "0.0001s").
    await admin.hset(`${prefix}:gate:run:${run.id}`, "expectedMs", "0.1");
    expect((await store.get(run.id))?.expectedMs).toBe(0.1);
    await admin.hset(`${prefix}:gate:run:${run.id}`, "status", "paused");
    await expect(store.get(run.id)).rejects.toThrow(
      `run ${run.id}: its Redis record is not a run's: status`,
    );
    // No record at all is no run, not an error.
    expect(await store.get("nothing-1")).toBeNull();
  });

  it("answers busy past the backlog limit, and writes nothing", async () => {
    await createRun(store, specOf({ name: "a", checksum: "1" }), 1000);
    const before = await admin.keys(`${prefix}:*`);
    const busy = await store.decide({
      job: specOf({ name: "b", checksum: "1" }),
      minFailureDelayMs: 0,
      maxQueueDepth: 1,
      now: 2000,
    });
    expect(busy).toEqual({ action: "busy" });
    expect((await admin.keys(`${prefix}:*`)).sort()).toEqual(before.sort());
  });
});

describe("fencing", () => {
  it("records the current attempt's verdict and output, and refuses a stale attempt's", async () => {
    const run = await createRun(store, specOf({ name: "app", checksum: "rev-1" }), 1000);
    await store.start(run.id, { worker: "w1", attemptToken: "token-1" });
    // w1 froze past its lock; w2 took the run up.
    const second = await store.start(run.id, { worker: "w2", attemptToken: "token-2" });
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
    await store.start(run.id, { worker: "w1", attemptToken: "token-1" });
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
    await store.start(running.id, { worker: "w", attemptToken: "t" });

    expect(await store.prune("ns", "app", 3000)).toBe(2);
    const kept = (await store.list("ns", "app")).map((run) => run.id);
    expect(kept).toEqual([running.id, ids[2]]);
    // Outputs are budgeted by position in the history: the running run is the newest one.
    expect(await store.getOutput(ids[2] as string)).toBeNull();
  });

  it("prunes a dropped run's inputs, run key and script with it; what a kept run uses stays", async () => {
    // A flood of new checksums and scripts on one canary (issue 28): each run supersedes
    // the one before; some ran (the worker stored their inputs and script), most did not.
    store = storeWith({ maxRunsPerCanary: 2 });
    const details = new RunDetailsStore(client, prefix, DAY);
    const scriptOf = (i: number) =>
      i === 0 || i >= 8
        ? "// shared\nexport default function () {}"
        : `// ${i}\nexport default function () {}`;
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const job = specOf({
        namespace: "flood",
        name: "app",
        checksum: `rev-${i}`,
        script: scriptOf(i),
      });
      const run = await createRun(store, job, 1000 + i);
      if (i % 3 === 0) await details.saveInputs(run.id, inputsOf(job));
      ids.push(run.id);
    }
    await store.start(ids[9] as string, { worker: "w", attemptToken: "t" });
    await store.finish(ids[9] as string, { result: passedResult, attemptToken: "t" });
    const keysOf = async (kind: string) => (await admin.keys(`${prefix}:gate:${kind}*`)).sort();

    expect(await store.prune("flood", "app", 3000)).toBe(8);
    expect(await keysOf("run:")).toEqual([
      `${prefix}:gate:run:${ids[8]}`,
      `${prefix}:gate:run:${ids[9]}`,
    ]);
    expect(await keysOf("key:")).toEqual([
      `${prefix}:gate:key:key-app-rev-8`,
      `${prefix}:gate:key:key-app-rev-9`,
    ]);
    expect(await keysOf("inputs:")).toEqual([`${prefix}:gate:inputs:${ids[9]}`]);
    // Run 0's script is the one runs 8 and 9 use: it stays; runs 3 and 6's went with them.
    expect(await keysOf("script:")).toEqual([
      `${prefix}:gate:script:${scriptDigestOf(scriptOf(9))}`,
    ]);
    expect((await details.inputs(ids[9] as string))?.script).toBe(scriptOf(9));
    // The owner's distinct scripts (its quota) count only what its kept runs use.
    expect(await admin.zrange(`${prefix}:gate:owner:namespace:flood:scripts`, 0, -1)).toEqual([
      scriptDigestOf(scriptOf(9)),
    ]);
    // A later call for a dropped check starts a fresh run (nothing to deliver), and a run
    // key that counts again never takes the id of a run or a BullMQ job still kept.
    const rev = (i: number) =>
      specOf({ namespace: "flood", name: "app", checksum: `rev-${i}`, script: scriptOf(i) });
    await queue.add("run", {}, { jobId: ids[1] as string }); // BullMQ keeps finished jobs a day
    expect((await createRun(store, rev(1), 4000)).id).toBe("key-app-rev-1-2");
    await admin.del(`${prefix}:gate:key:key-app-rev-9`);
    const again = await createRun(store, rev(9), 4001);
    expect(again.id).toBe("key-app-rev-9-2");
    expect((await store.get(ids[9] as string))?.status).toBe("finished");
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
    // Two checks of one revision (pre-rollout and rollout, other scripts): both in flight.
    const b = await createRun(
      store,
      specOf({ name: "busy", checksum: "a", runKey: "key-busy-a2" }),
      1000,
    );
    const c = await createRun(store, specOf({ name: "other", checksum: "c" }), 1000);
    expect(await store.inFlight()).toEqual(
      new Map([
        ["ns/busy", { queued: 2, running: 0 }],
        ["ns/other", { queued: 1, running: 0 }],
      ]),
    );
    await store.start(a.id, { worker: "w1", attemptToken: "t" });
    expect((await store.inFlight()).get("ns/busy")).toEqual({ queued: 1, running: 1 });
    await store.requeue(a.id, "t");
    expect((await store.inFlight()).get("ns/busy")).toEqual({ queued: 2, running: 0 });
    for (const run of [a, b, c]) {
      await store.start(run.id, { worker: "w1", attemptToken: "t" });
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
    await store.start(run.id, { worker: "w1", attemptToken: "t" });
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

describe("supersede, cancel and fair sharing", () => {
  const decide = (job: ReturnType<typeof specOf>, now: number, supersede?: boolean) =>
    store.decide({ job, minFailureDelayMs: 0, maxQueueDepth: 100, now, supersede });

  it("a new revision's run ends the canary's queued and running runs of that phase for other revisions, atomically", async () => {
    const running = await createRun(store, specOf({ name: "app", checksum: "a" }), 1000);
    await store.start(running.id, { worker: "w1", attemptToken: "t1" });
    const queued = await createRun(
      store,
      specOf({ name: "app", checksum: "a", runKey: "k-a2" }),
      1001,
    );
    const otherPhase = await createRun(
      store,
      specOf({ name: "app", checksum: "a", runKey: "k-a3", phase: "Promoting" }),
      1002,
    );
    const otherCanary = await createRun(store, specOf({ name: "other", checksum: "a" }), 1003);
    const stops: string[] = [];
    const listener = client.duplicate();
    await listener.subscribe(store.stopChannel);
    listener.on("message", (_channel: string, message: string) => stops.push(message));
    try {
      const created = await store.decide({
        job: specOf({ name: "app", checksum: "b" }),
        minFailureDelayMs: 0,
        maxQueueDepth: 100,
        now: 2000,
        caller: { tokenName: "team-a", address: "10.0.0.5" },
      });
      expect(created.action).toBe("created");
      if (created.action !== "created") return;
      expect(created.superseded.sort((x, y) => x.id.localeCompare(y.id))).toEqual(
        [
          { id: running.id, was: "running" },
          { id: queued.id, was: "queued" },
        ].sort((x, y) => x.id.localeCompare(y.id)),
      );
      for (const id of [running.id, queued.id]) {
        expect(await store.get(id)).toMatchObject({
          status: "finished",
          verdict: "fail",
          outcome: "superseded",
          reason: "superseded by revision b",
          supersededBy: created.run.id,
          supersededByCaller: { tokenName: "team-a", address: "10.0.0.5" },
          finishedAt: 2000,
          delivered: false,
        });
      }
      for (const id of [otherPhase.id, otherCanary.id]) {
        expect((await store.get(id))?.status).toBe("queued");
      }
      await waitFor("the stop message", () => stops.length === 1);
      expect(JSON.parse(stops[0] as string)).toEqual({
        runId: running.id,
        reason: "superseded by revision b",
      });
      // The running attempt learns it from its heartbeat too, and leaves its output.
      expect(await store.heartbeat(running.id, "t1")).toEqual({
        state: "ended",
        reason: "superseded by revision b",
      });
      const late = await store.finish(running.id, {
        result: passedResult,
        attemptToken: "t1",
        output: "k6 output up to the stop",
      });
      expect(late).toMatchObject({ state: "already", run: { outcome: "superseded" } });
      expect(await store.getOutput(running.id)).toBe("k6 output up to the stop");
      expect(await store.queuedCount()).toBe(3);
      expect(await store.runningRuns()).toEqual([]);
      // A superseded run is no verdict on its revision: neither handed to the old
      // revision's next call (undelivered) nor a recent failure; that call runs afresh.
      const old = await store.decide({
        job: specOf({ name: "app", checksum: "a" }),
        minFailureDelayMs: 60_000,
        maxQueueDepth: 100,
        now: 3000,
      });
      expect(old).toMatchObject({ action: "created", superseded: [{ id: created.run.id }] });
      if (old.action === "created") expect(old.run.id).not.toBe(running.id);
    } finally {
      listener.disconnect();
    }
  });

  it('supersedes nothing with supersede "false", on the call or on the run in flight', async () => {
    const kept = await decide(specOf({ name: "app", checksum: "a" }), 1000, false);
    const second = await decide(specOf({ name: "app", checksum: "b" }), 2000);
    expect(second).toMatchObject({ action: "created", superseded: [] });
    const third = await decide(specOf({ name: "app", checksum: "c" }), 3000, false);
    expect(third).toMatchObject({ action: "created", superseded: [] });
    if (kept.action !== "created" || second.action !== "created") throw new Error("not created");
    expect((await store.get(kept.run.id))?.status).toBe("queued");
    expect((await store.get(second.run.id))?.status).toBe("queued");
  });

  it("never supersedes a run a call waits on (decision 41): a live lease keeps it, a released or lapsed one does not", async () => {
    const lease = { holder: "api-1", leaseMs: 10_000 };
    const ended = async (checksum: string, now: number) => {
      const decision = await decide(specOf({ name: "app", checksum }), now);
      if (decision.action !== "created") throw new Error("not created");
      return decision.superseded.map((run) => run.id);
    };
    // The caller will wait: DECIDE marks the run it creates in the same script.
    const waited = await store.decide({
      job: specOf({ name: "app", checksum: "a" }),
      minFailureDelayMs: 0,
      maxQueueDepth: 100,
      now: 1000,
      waiter: lease,
    });
    if (waited.action !== "created") throw new Error("not created");
    expect(await ended("made-up", 2000)).toEqual([]);
    expect((await store.get(waited.run.id))?.status).toBe("queued");

    // Renewed while waiting; lapsed past its lease with no renewal: superseded then.
    await store.holdWaited([waited.run.id], lease, 5000);
    expect(await ended("c", 14_000)).not.toContain(waited.run.id);
    expect(await ended("d", 15_001)).toContain(waited.run.id);

    // A call attaching marks the run too; released once no call here waits on it.
    const attached = await store.decide({
      job: specOf({ name: "app", checksum: "d" }),
      minFailureDelayMs: 0,
      maxQueueDepth: 100,
      now: 16_000,
      waiter: lease,
    });
    expect(attached.action).toBe("attach");
    if (attached.action !== "attach") return;
    expect(await ended("e", 17_000)).not.toContain(attached.run.id);
    await store.releaseWaited(attached.run.id, lease.holder);
    expect(await ended("f", 18_000)).toContain(attached.run.id);
  });

  it("cancels a queued or running run with the reason and who, once", async () => {
    const queued = await createRun(store, specOf({ name: "q", checksum: "a" }), 1000);
    const running = await createRun(store, specOf({ name: "r", checksum: "a" }), 1000);
    await store.start(running.id, { worker: "w1", attemptToken: "t1" });
    const one = await store.cancel(queued.id, { reason: "not needed", by: "ops", now: 2000 });
    expect(one).toMatchObject({
      state: "cancelled",
      was: "queued",
      run: {
        outcome: "cancelled",
        verdict: "fail",
        cancelledBy: "ops",
        reason: "cancelled by ops: not needed",
      },
    });
    expect(await store.cancel(running.id, { reason: "runaway", by: "ops" })).toMatchObject({
      state: "cancelled",
      was: "running",
    });
    expect(await store.cancel(running.id, { reason: "twice", by: "ops" })).toMatchObject({
      state: "finished",
      run: { reason: "cancelled by ops: runaway" },
    });
    expect(await store.cancel("k-none-1", { reason: "?", by: "ops" })).toEqual({
      state: "missing",
    });
    expect(await store.queuedCount()).toBe(0);
    expect(await store.start(queued.id, { worker: "w2", attemptToken: "t2" })).toEqual({
      state: "finished",
    });
  });

  it("orders runs by their owner's runs in flight (no tokens: the namespace): a burst does not hold back another namespace", async () => {
    const burst: string[] = [];
    for (let i = 0; i < 5; i++) {
      burst.push(
        (
          await createRun(
            store,
            specOf({ name: `a-${i}`, checksum: "1", namespace: "team-a" }),
            1000 + i,
          )
        ).id,
      );
    }
    const first = await store.get(burst[0] as string);
    await store.start(burst[0] as string, { worker: "w", attemptToken: "t" });
    const b = await createRun(
      store,
      specOf({ name: "b", checksum: "1", namespace: "team-b" }),
      2000,
    );
    expect(first?.priority).toBe(1);
    expect((await store.getMany(burst)).map((run) => run.priority)).toEqual([1, 2, 3, 4, 5]);
    expect(b.priority).toBe(1);
    // team-b's run is next in line; team-a's keep their order behind it.
    expect(await store.queueStanding(b.id)).toEqual({ ahead: 0, queued: 5 });
    expect(await store.queueStanding(burst[1] as string)).toEqual({ ahead: 1, queued: 5 });
    expect(await store.queueStanding(burst[0] as string)).toBeNull();
    // A later team-a run never goes ahead of team-a's own queued ones.
    const late = await createRun(
      store,
      specOf({ name: "a-late", checksum: "1", namespace: "team-a" }),
      3000,
    );
    expect(late.priority).toBe(6);
    // Handed back, a run takes its old place: first (priority 1, and before team-b's).
    await store.requeue(burst[0] as string, "t");
    expect(await store.queueStanding(burst[0] as string)).toEqual({ ahead: 0, queued: 7 });
    expect(await store.queueStanding(b.id)).toEqual({ ahead: 1, queued: 7 });
  });

  describe("per owner, decided again when work is taken (BullMQ's own take order)", () => {
    let worker: Worker;
    let connection: Redis;
    beforeEach(() => {
      // A worker's connection waits rather than fails (BullMQ requires it).
      connection = new Redis(stack.redis.url, { maxRetriesPerRequest: null });
      worker = new Worker(RUN_QUEUE, null, { connection, prefix, autorun: false });
    });
    afterEach(async () => {
      await worker.close();
      connection.disconnect();
    });

    /** Creates a run of `owner` and adds its job, as the API does. */
    async function queued(namespace: string, name: string, owner: string, now: number) {
      const job = specOf({ name, checksum: "1", namespace, runKey: `key-${namespace}-${name}` });
      const decision = await store.decide({
        job,
        minFailureDelayMs: 0,
        maxQueueDepth: 100,
        now,
        owner,
      });
      if (decision.action !== "created") throw new Error(`not created: ${decision.action}`);
      await enqueueRun(queue, { ...job, runId: decision.run.id }, decision.run.priority);
      await store.place(decision.run.id, now);
      return decision.run;
    }

    /** The ids of the next `count` jobs a worker takes (BullMQ's moveToActive), in order. */
    async function taken(count: number): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        const job = await worker.getNextJob(`take-${i}`, { block: false });
        if (!job?.id) break;
        ids.push(job.id);
      }
      return ids;
    }

    it("counts one token's runs as one owner, however many namespaces they span", async () => {
      const burst = [];
      for (let i = 0; i < 4; i++)
        burst.push(await queued(`a-${i}`, "app", "token:team-a", 1000 + i));
      const b = await queued("team-b", "app", "token:team-b", 2000);
      expect(burst.map((run) => run.priority)).toEqual([1, 2, 3, 4]);
      expect(b).toMatchObject({ priority: 1, owner: "token:team-b" });
      expect(await taken(5)).toEqual([
        burst[0]?.id,
        b.id,
        burst[1]?.id,
        burst[2]?.id,
        burst[3]?.id,
      ]);
    });

    it("moves an owner's queued run up as soon as its running one ends, ahead of later arrivals", async () => {
      const first = await queued("team-b", "b-1", "namespace:team-b", 1000);
      expect(await taken(1)).toEqual([first.id]);
      await store.start(first.id, { worker: "w", attemptToken: "t1", now: 1001 });
      const second = await queued("team-b", "b-2", "namespace:team-b", 1002);
      const later = [];
      for (let i = 0; i < 3; i++)
        later.push(await queued(`o-${i}`, "x", `namespace:o-${i}`, 1003 + i));
      // team-b runs one k6: the others, with none, go first.
      expect(second.priority).toBe(2);
      expect(await store.queueStanding(second.id)).toEqual({ ahead: 3, queued: 4 });

      await store.finish(first.id, { result: passedResult, attemptToken: "t1", now: 1010 });
      expect(await store.get(second.id)).toMatchObject({ priority: 1 });
      expect((await queue.getJob(second.id))?.priority).toBe(1);
      expect(await store.queueStanding(second.id)).toEqual({ ahead: 0, queued: 4 });
      expect(await taken(4)).toEqual([second.id, ...later.map((run) => run.id)]);
    });

    it("puts a run ended early out of its owner's line: the runs behind it move up", async () => {
      const runs = [];
      for (let i = 0; i < 3; i++)
        runs.push(await queued("team-a", `a-${i}`, "namespace:team-a", 1000 + i));
      await store.cancel(runs[0]?.id as string, { reason: "not needed", by: "ops", now: 1100 });
      await queue.remove(runs[0]?.id as string); // as the API does (stopped-runs.ts)
      expect((await store.getMany(runs.map((run) => run.id))).map((run) => run.priority)).toEqual([
        1, 1, 2,
      ]);
      expect(await taken(2)).toEqual([runs[1]?.id, runs[2]?.id]);
    });
  });

  it("caps an owner's running k6 with slot leases: deferred while full, free when released or expired", async () => {
    const cap = { maxRunsPerOwner: 1, leaseMs: 5000 };
    const [one, two, other] = [
      await createRun(store, specOf({ name: "one", checksum: "1" }), 1000),
      await createRun(store, specOf({ name: "two", checksum: "1" }), 1000),
      await createRun(store, specOf({ name: "x", checksum: "1", namespace: "elsewhere" }), 1000),
    ];
    expect(
      (await store.start(one.id, { worker: "w", attemptToken: "t1", now: 10_000, ...cap })).state,
    ).toBe("started");
    expect(
      await store.start(two.id, { worker: "w", attemptToken: "t2", now: 10_001, ...cap }),
    ).toEqual({ state: "deferred" });
    expect(await store.get(two.id)).toMatchObject({ status: "queued", attempt: 0 });
    expect(
      (await store.start(other.id, { worker: "w", attemptToken: "t3", now: 10_002, ...cap })).state,
    ).toBe("started");
    // A new attempt of the same run (its worker died) takes over its own slot.
    expect(
      (await store.start(one.id, { worker: "w2", attemptToken: "t1b", now: 11_000, ...cap })).state,
    ).toBe("started");
    // A stale attempt cannot free the current one's slot; the current one can.
    await store.releaseSlot(one.id, "t1");
    expect(
      await store.start(two.id, { worker: "w", attemptToken: "t2", now: 11_001, ...cap }),
    ).toEqual({ state: "deferred" });
    await store.releaseSlot(one.id, "t1b");
    expect(
      (await store.start(two.id, { worker: "w", attemptToken: "t2", now: 11_002, ...cap })).state,
    ).toBe("started");
    // A slot whose worker stopped renewing it expires.
    const three = await createRun(store, specOf({ name: "three", checksum: "1" }), 1000);
    expect(
      await store.start(three.id, { worker: "w", attemptToken: "t4", now: 12_000, ...cap }),
    ).toEqual({ state: "deferred" });
    expect(
      (await store.start(three.id, { worker: "w", attemptToken: "t4", now: 16_003, ...cap })).state,
    ).toBe("started");
  });
});

describe("quotas per owner (decision 44)", () => {
  const quotas = { maxCanaries: 2, maxScripts: 2 };
  const call = (namespace: string, name: string, script: string, now: number, owner?: string) =>
    store.decide({
      job: specOf({
        namespace,
        name,
        checksum: "1",
        runKey: `key-${namespace}-${name}-${script}`,
        script,
      }),
      minFailureDelayMs: 0,
      maxQueueDepth: 100,
      now,
      owner,
      quotas,
    });

  it("refuses a new canary or script over its owner's quota, before anything is written or superseded", async () => {
    expect((await call("flood", "c-1", "s1", 1000)).action).toBe("created");
    expect((await call("flood", "c-2", "s1", 1001)).action).toBe("created");
    const before = (await admin.keys(`${prefix}:*`)).sort();
    expect(await call("flood", "c-3", "s1", 1002)).toEqual({
      action: "quota",
      quota: "canaries",
      used: 2,
      limit: 2,
    });
    expect((await admin.keys(`${prefix}:*`)).sort()).toEqual(before);
    // A canary it has is not a new one; a second script is within the quota, a third not.
    expect((await call("flood", "c-1", "s2", 1003)).action).toBe("created");
    expect(await call("flood", "c-2", "s3", 1004)).toMatchObject({
      action: "quota",
      quota: "scripts",
      used: 2,
    });
    // The refused call superseded nothing: c-2's run is still queued.
    expect((await store.list("flood", "c-2"))[0]?.status).toBe("queued");
    // Another owner is not held back; a token counts across its namespaces.
    expect((await call("team-b", "c-9", "s9", 1005)).action).toBe("created");
    expect((await call("a-1", "x", "s1", 1006, "token:a")).action).toBe("created");
    expect((await call("a-2", "y", "s1", 1007, "token:a")).action).toBe("created");
    expect(await call("a-3", "z", "s1", 1008, "token:a")).toMatchObject({ quota: "canaries" });
  });

  it("frees a quota as the owner's history ages out, never by dropping it", async () => {
    await call("flood", "c-1", "s1", 1000);
    await call("flood", "c-2", "s2", 1001);
    expect((await call("flood", "c-3", "s3", 1002)).action).toBe("quota");
    expect(await store.list("flood", "c-1")).toHaveLength(1);
    expect((await call("flood", "c-3", "s3", 1000 + DAY + 1)).action).toBe("created");
  });

  it("cuts an output beyond its owner's bytes to its tail, and frees the bytes as outputs are pruned", async () => {
    const budget = storeWith({ maxOutputsPerCanary: 1, maxOutputBytesPerOwner: 1000 });
    const finished = async (name: string, output: string, now: number) => {
      const run = await createRun(
        budget,
        specOf({ namespace: "team-a", name, checksum: String(now) }),
        now,
      );
      await budget.start(run.id, { worker: "w", attemptToken: `t-${name}` });
      await budget.finish(run.id, { result: passedResult, attemptToken: `t-${name}`, output });
      return run.id;
    };
    const first = await finished("a", "x".repeat(600), 1000);
    expect(await budget.getOutput(first)).toBe("x".repeat(600));
    const second = await finished("b", `${"y".repeat(590)}END`, 1001);
    const cut = (await budget.getOutput(second)) ?? "";
    expect(cut).toMatch(
      /^\[k6-gate: the start of this output was cut: its owner keeps at most 1000 bytes of k6 output \(MAX_OUTPUT_BYTES_PER_OWNER\)/,
    );
    expect(cut.endsWith("yEND")).toBe(true);
    expect(Buffer.byteLength(cut)).toBe(400);
    // The budget is full: the next output keeps only the line saying why, until canary
    // a's older output is pruned (1 per canary), which frees its bytes.
    const third = await finished("a", "z".repeat(500), 1002);
    expect(await budget.getOutput(third)).toMatch(/^\[k6-gate: the start of this output was cut/);
    await budget.prune("team-a", "a");
    expect(await budget.getOutput(first)).toBeNull();
    const fourth = await finished("c", "w".repeat(100), 1003);
    expect(await budget.getOutput(fourth)).toBe("w".repeat(100));
    // Another owner has its own budget.
    const other = await createRun(
      budget,
      specOf({ namespace: "team-b", name: "b", checksum: "1" }),
      1004,
    );
    await budget.start(other.id, { worker: "w", attemptToken: "t-other" });
    await budget.finish(other.id, {
      result: passedResult,
      attemptToken: "t-other",
      output: "v".repeat(900),
    });
    expect(await budget.getOutput(other.id)).toBe("v".repeat(900));
  });
});

describe("listing canaries", () => {
  it("says how many canaries exist beyond a listing's limit, in the JSON, the page and /metrics", async () => {
    const api = await inProcessApi(stack.redis);
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
