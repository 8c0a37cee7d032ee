import { EventEmitter, getEventListeners } from "node:events";
import type { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RunRecord, RunStatus, RunStore } from "@k6-gate/shared";
import { RunWaiter, type WaitOutcome } from "../../apps/api/src/run-waiter";

/** The Redis subscription, as RunWaiter uses it: `subscribe` and "message" events. */
class FakeSubscriber extends EventEmitter {
  readonly channels: string[] = [];
  async subscribe(channel: string): Promise<number> {
    this.channels.push(channel);
    return this.channels.length;
  }
}

/** The run store, as RunWaiter uses it. A read replies with the record as it was asked. */
class FakeStore implements Pick<
  RunStore,
  "finishedChannel" | "get" | "holdWaited" | "releaseWaited"
> {
  readonly finishedChannel = "k6gate:gate:finished";
  readonly records = new Map<string, RunRecord>();
  /** The runs marked waited on, each with when its lease lapses (fake time). */
  readonly waited = new Map<string, number>();
  renewals = 0;

  async holdWaited(runIds: string[], lease: { leaseMs: number }): Promise<void> {
    this.renewals++;
    for (const runId of runIds) this.waited.set(runId, Date.now() + lease.leaseMs);
  }

  async releaseWaited(runId: string): Promise<void> {
    this.waited.delete(runId);
  }
  reads = 0;
  failWith: Error | undefined;
  /** While set, replies wait for it (a slow Redis). */
  gate: Promise<void> | undefined;

  async get(runId: string): Promise<RunRecord | null> {
    this.reads++;
    const record = this.records.get(runId) ?? null;
    await this.gate;
    if (this.failWith) throw this.failWith;
    return record;
  }

  set(id: string, status: RunStatus): RunRecord {
    const record = runRecord(id, status);
    this.records.set(id, record);
    return record;
  }
}

function runRecord(id: string, status: RunStatus): RunRecord {
  const finished = status === "finished";
  return {
    id,
    runKey: "kabc",
    namespace: "test",
    name: "podinfo",
    checksum: "rev1",
    phase: "Progressing",
    status,
    attempt: status === "queued" ? 0 : 1,
    worker: status === "queued" ? null : "worker-1",
    enqueuedAt: 0,
    startedAt: status === "queued" ? null : 10,
    finishedAt: finished ? 20 : null,
    delivered: false,
    verdict: finished ? "pass" : null,
    outcome: finished ? "passed" : null,
    reason: finished ? "all 1 thresholds passed" : null,
    result: null,
    slackChannels: [],
    warnings: [],
    slackThreads: [],
    cloudUrl: null,
    owner: "namespace:test",
    priority: 1,
    supersededBy: null,
    supersededByCaller: null,
    cancelledBy: null,
    k6StartedAt: null,
    expectedMs: null,
    k6Progress: null,
  };
}

/** A wait whose outcome can be looked at without awaiting it. */
function track(promise: Promise<WaitOutcome>) {
  const tracked: { outcome?: WaitOutcome; error?: unknown } = {};
  promise.then(
    (outcome) => (tracked.outcome = outcome),
    (error: unknown) => (tracked.error = error),
  );
  return tracked;
}

/** Lets pending promises run; fake time moves only by `ms`. */
const elapse = (ms = 0) => vi.advanceTimersByTimeAsync(ms);

function deferred() {
  let resolve = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const RECHECK_MS = 3000;
let subscriber: FakeSubscriber;
let store: FakeStore;
let waiter: RunWaiter;

beforeEach(async () => {
  vi.useFakeTimers();
  // Re-checks are jittered over 0.5-1.5 x RECHECK_MS: pin them to RECHECK_MS.
  vi.spyOn(Math, "random").mockReturnValue(0.5);
  subscriber = new FakeSubscriber();
  store = new FakeStore();
  waiter = new RunWaiter(subscriber as unknown as Redis, store as unknown as RunStore, RECHECK_MS);
  await waiter.start();
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const publish = (runId: string) => subscriber.emit("message", store.finishedChannel, runId);

describe("RunWaiter: woken by the verdict", () => {
  it("subscribes once, to the store's verdict channel", () => {
    expect(subscriber.channels).toEqual([store.finishedChannel]);
  });

  it("answers when the run's verdict is published, at once", async () => {
    store.set("r1", "running");
    const wait = track(waiter.wait("r1", 60_000));
    await elapse();
    expect(store.reads).toBe(1);
    expect(wait.outcome).toBeUndefined();

    const finished = store.set("r1", "finished");
    publish("r1");
    await elapse();
    expect(wait.outcome).toEqual({ state: "finished", record: finished });
    expect(store.reads).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("wakes every caller of that run, and only them", async () => {
    store.set("r1", "running");
    store.set("r2", "running");
    const waits = [1, 2, 3].map(() => track(waiter.wait("r1", 60_000)));
    const other = track(waiter.wait("r2", 60_000));
    await elapse();
    store.set("r1", "finished");
    store.set("r2", "finished");
    publish("r1");
    await elapse();
    for (const wait of waits) expect(wait.outcome?.state).toBe("finished");
    expect(other.outcome).toBeUndefined();
    expect(store.reads).toBe(4 + 3);
  });

  it("reads again and keeps waiting when woken for a run that is still going", async () => {
    store.set("r1", "queued");
    const wait = track(waiter.wait("r1", 60_000));
    await elapse();
    publish("r1");
    await elapse();
    expect(store.reads).toBe(2);
    expect(wait.outcome).toBeUndefined();
    publish("unrelated-run");
    await elapse();
    expect(store.reads).toBe(2);
  });

  it("does not miss a verdict published while the run is being read", async () => {
    store.set("r1", "running");
    const slow = deferred();
    store.gate = slow.promise;
    const wait = track(waiter.wait("r1", 60_000));
    await elapse();
    // The worker finishes after Redis answered "running", before the reply arrives.
    store.set("r1", "finished");
    publish("r1");
    store.gate = undefined;
    slow.resolve();
    await elapse();
    expect(wait.outcome?.state).toBe("finished");
    expect(store.reads).toBe(2);
  });
});

describe("RunWaiter: re-checks and deadlines", () => {
  it("re-reads the run on its own, in case a message was lost", async () => {
    store.set("r1", "running");
    const wait = track(waiter.wait("r1", 60_000));
    await elapse();
    store.set("r1", "finished"); // no message
    await elapse(RECHECK_MS - 1);
    expect(wait.outcome).toBeUndefined();
    await elapse(1);
    expect(wait.outcome?.state).toBe("finished");
    expect(store.reads).toBe(2);
  });

  it("jitters the re-check between half and one and a half times its period", async () => {
    store.set("r1", "running");
    vi.mocked(Math.random).mockReturnValue(0);
    track(waiter.wait("r1", 60_000));
    await elapse(RECHECK_MS / 2 - 1);
    expect(store.reads).toBe(1);
    // The next re-check is drawn when this one reads.
    vi.mocked(Math.random).mockReturnValue(0.999);
    await elapse(1);
    expect(store.reads).toBe(2);
    await elapse(RECHECK_MS * 1.499 - 1);
    expect(store.reads).toBe(2);
    await elapse(1);
    expect(store.reads).toBe(3);
  });

  it("answers with the run as it is at the deadline, re-reading on the way", async () => {
    const running = store.set("r1", "running");
    const wait = track(waiter.wait("r1", 5000));
    await elapse(RECHECK_MS);
    expect(store.reads).toBe(2);
    await elapse(5000 - RECHECK_MS - 1);
    expect(wait.outcome).toBeUndefined();
    await elapse(1);
    expect(wait.outcome).toEqual({ state: "timeout", record: running });
    expect(store.reads).toBe(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("with no time to wait, reads once and answers", async () => {
    const queued = store.set("r1", "queued");
    await expect(waiter.wait("r1", 0)).resolves.toEqual({ state: "timeout", record: queued });
    expect(store.reads).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("answers a finished run at once, and a missing one as missing", async () => {
    const finished = store.set("r1", "finished");
    await expect(waiter.wait("r1", 60_000)).resolves.toEqual({
      state: "finished",
      record: finished,
    });
    await expect(waiter.wait("gone", 60_000)).resolves.toEqual({ state: "missing" });
    expect(store.reads).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("passes a read's error on, leaving nothing behind", async () => {
    store.set("r1", "running");
    const error = new Error("ERR unknown command");
    store.failWith = error;
    await expect(waiter.wait("r1", 60_000)).rejects.toBe(error);
    expect(vi.getTimerCount()).toBe(0);
    expect(() => publish("r1")).not.toThrow();
  });
});

describe("RunWaiter: Redis away for a moment (a Sentinel failover)", () => {
  const unavailable = () => new Error("Connection is closed.");

  it("keeps waiting, reads again every half second or so, and answers once Redis is back", async () => {
    store.set("r1", "running");
    const wait = track(waiter.wait("r1", 60_000));
    await elapse();
    store.failWith = unavailable();
    publish("r1"); // a wake-up while Redis is away
    await elapse();
    expect(store.reads).toBe(2);
    await elapse(500);
    expect(store.reads).toBe(3);
    expect(wait.outcome).toBeUndefined();
    expect(wait.error).toBeUndefined();

    // Back, with the verdict recorded meanwhile (its message lost): found at the next read.
    store.failWith = undefined;
    const finished = store.set("r1", "finished");
    await elapse(500);
    expect(wait.outcome).toEqual({ state: "finished", record: finished });
    expect(store.reads).toBe(4);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("is still woken by the verdict's message between those reads", async () => {
    store.set("r1", "running");
    store.failWith = unavailable();
    const wait = track(waiter.wait("r1", 60_000));
    await elapse();
    expect(store.reads).toBe(1);
    store.failWith = undefined;
    const finished = store.set("r1", "finished");
    publish("r1");
    await elapse();
    expect(wait.outcome).toEqual({ state: "finished", record: finished });
    expect(store.reads).toBe(2);
  });

  it("reads every waited-on run again when the subscription is back: a verdict's message may be lost", async () => {
    store.set("r1", "running");
    store.set("r2", "running");
    const waits = [track(waiter.wait("r1", 60_000)), track(waiter.wait("r2", 60_000))];
    await elapse();
    const finished = store.set("r1", "finished"); // published while the subscriber was away
    subscriber.emit("ready");
    await elapse();
    expect(waits[0]?.outcome).toEqual({ state: "finished", record: finished });
    expect(waits[1]?.outcome).toBeUndefined();
    expect(store.reads).toBe(4);
  });

  it("answers with the error at the deadline when Redis is still away", async () => {
    store.set("r1", "running");
    const error = unavailable();
    store.failWith = error;
    const wait = track(waiter.wait("r1", 2000));
    await elapse(1999);
    expect(wait.error).toBeUndefined();
    await elapse(1);
    expect(wait.error).toBe(error);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("stops when the caller leaves or the API shuts down", async () => {
    store.set("r1", "running");
    store.set("r2", "running");
    const error = unavailable();
    store.failWith = error;
    const caller = new AbortController();
    const left = track(waiter.wait("r1", 60_000, caller.signal));
    const other = track(waiter.wait("r2", 60_000));
    await elapse();
    caller.abort();
    await elapse();
    expect(left.outcome).toEqual({ state: "aborted" });
    waiter.releaseAll();
    await elapse();
    expect(other.error).toBe(error);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("RunWaiter: the caller leaving", () => {
  it("stops waiting when the caller's signal aborts, without another read", async () => {
    store.set("r1", "running");
    const caller = new AbortController();
    const wait = track(waiter.wait("r1", 60_000, caller.signal));
    await elapse();
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(1);
    caller.abort();
    await elapse();
    expect(wait.outcome).toEqual({ state: "aborted" });
    expect(store.reads).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(0);
  });

  it("does not read a run for a caller already gone", async () => {
    store.set("r1", "running");
    await expect(waiter.wait("r1", 60_000, AbortSignal.abort())).resolves.toEqual({
      state: "aborted",
    });
    expect(store.reads).toBe(0);
  });

  it("notices a caller that left while the run was being read", async () => {
    store.set("r1", "running");
    const slow = deferred();
    store.gate = slow.promise;
    const caller = new AbortController();
    const wait = track(waiter.wait("r1", 60_000, caller.signal));
    await elapse();
    caller.abort();
    slow.resolve();
    await elapse();
    expect(wait.outcome).toEqual({ state: "aborted" });
    expect(store.reads).toBe(1);
  });

  it("removes its abort listener once answered", async () => {
    store.set("r1", "running");
    const caller = new AbortController();
    const wait = track(waiter.wait("r1", 60_000, caller.signal));
    await elapse();
    store.set("r1", "finished");
    publish("r1");
    await elapse();
    expect(wait.outcome?.state).toBe("finished");
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(0);
  });
});

describe("RunWaiter.releaseAll (API shutdown)", () => {
  it("ends every wait now with the run's current status", async () => {
    store.set("r1", "running");
    store.set("r2", "queued");
    const waits = [track(waiter.wait("r1", 60_000)), track(waiter.wait("r2", 60_000))];
    await elapse();
    const finished = store.set("r2", "finished");
    waiter.releaseAll();
    await elapse();
    expect(waits[0]?.outcome).toEqual({ state: "timeout", record: runRecord("r1", "running") });
    expect(waits[1]?.outcome).toEqual({ state: "finished", record: finished });
    expect(store.reads).toBe(4);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("answers later calls after one read, without waiting", async () => {
    waiter.releaseAll();
    const running = store.set("r1", "running");
    await expect(waiter.wait("r1", 60_000)).resolves.toEqual({ state: "timeout", record: running });
    expect(store.reads).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("RunWaiter: a waited-on run's lease (decision 41)", () => {
  it("marks the run while a call waits, renews it every third of the lease, and drops it when the last caller leaves", async () => {
    store.set("r1", "running");
    const caller = new AbortController();
    const first = track(waiter.wait("r1", 60_000, caller.signal));
    const second = track(waiter.wait("r1", 60_000));
    await elapse();
    expect(store.waited.get("r1")).toBe(Date.now() + waiter.waitLease.leaseMs);
    const renewals = store.renewals;
    await elapse(waiter.waitLease.leaseMs);
    expect(store.renewals).toBe(renewals + 3);
    expect(store.waited.get("r1")).toBeGreaterThan(Date.now());

    caller.abort();
    await elapse();
    expect(first.outcome).toEqual({ state: "aborted" });
    expect(store.waited.has("r1")).toBe(true);
    store.set("r1", "finished");
    publish("r1");
    await elapse();
    expect(second.outcome?.state).toBe("finished");
    expect(store.waited.has("r1")).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("RunWaiter.lease", () => {
  it("hands out at most `max` slots, counted in inFlight", () => {
    const first = waiter.lease(2);
    const second = waiter.lease(2);
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(waiter.inFlight).toBe(2);
    expect(waiter.lease(2)).toBeUndefined();
    expect(waiter.inFlight).toBe(2);
  });

  it("frees a slot once, however often it is released", () => {
    const first = waiter.lease(1);
    first?.release();
    first?.release();
    expect(waiter.inFlight).toBe(0);
    const second = waiter.lease(1);
    expect(second).toBeDefined();
    first?.release();
    expect(waiter.inFlight).toBe(1);
    expect(waiter.lease(1)).toBeUndefined();
    second?.release();
    expect(waiter.inFlight).toBe(0);
  });

  it("is independent of waiting: a wait takes no slot", async () => {
    store.set("r1", "running");
    track(waiter.wait("r1", 60_000));
    await elapse();
    expect(waiter.inFlight).toBe(0);
  });
});
