import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunStore } from "@k6-gate/shared";
import { createRun, passedResult, specOf } from "@k6-gate/testkit/run-fixtures";
import { useStack } from "@k6-gate/testkit/use-stack";

/** A run's k6 progress is written by its current attempt only, and each attempt starts anew. */
const stack = useStack({ api: false, workers: 0 });
let client: Redis;

beforeAll(async () => {
  client = new Redis(stack.redis.url);
});
afterAll(async () => {
  client?.disconnect();
});

const progress = { vus: 1, maxVUs: 2, iterations: 7, interrupted: 0 };

describe("k6 progress on the run record", () => {
  it("is fenced by the attempt token, cleared by a new attempt, kept after the verdict", async () => {
    const store = new RunStore(client, `test-${randomUUID().slice(0, 8)}`, {
      maxRunsPerCanary: 10,
      maxAgeMs: 3_600_000,
      maxOutputsPerCanary: 10,
    });
    const run = await createRun(store, specOf({ name: "app", checksum: "rev-1" }), 1000);
    expect(await store.get(run.id)).toMatchObject({
      k6StartedAt: null,
      expectedMs: null,
      k6Progress: null,
    });
    // Not running yet: nothing is written.
    expect(await store.setK6Progress(run.id, "token-1", { progress })).toBe(false);

    await store.start(run.id, { worker: "w1", attemptToken: "token-1", now: 2000 });
    const started = { at: 2500, expectedMs: 20_000 };
    expect(await store.setK6Progress(run.id, "token-1", { started })).toBe(true);
    expect(await store.setK6Progress(run.id, "token-1", { progress })).toBe(true);
    expect(await store.get(run.id)).toMatchObject({
      k6StartedAt: 2500,
      expectedMs: 20_000,
      k6Progress: progress,
    });

    // Another attempt took the run up: the first one's progress is gone and it writes no more.
    await store.start(run.id, { worker: "w2", attemptToken: "token-2", now: 3000 });
    expect(await store.get(run.id)).toMatchObject({
      k6StartedAt: null,
      expectedMs: null,
      k6Progress: null,
    });
    expect(await store.setK6Progress(run.id, "token-1", { progress, started })).toBe(false);
    // A script whose time iterations decide: no expected time.
    const unknown = { at: 3500, expectedMs: null };
    expect(await store.setK6Progress(run.id, "token-2", { started: unknown })).toBe(true);
    expect(await store.get(run.id)).toMatchObject({ k6StartedAt: 3500, expectedMs: null });

    await store.setK6Progress(run.id, "token-2", { started });
    await store.finish(run.id, { result: passedResult, attemptToken: "token-2" });
    expect(await store.setK6Progress(run.id, "token-2", { progress })).toBe(false);
    expect(await store.get(run.id)).toMatchObject({ status: "finished", expectedMs: 20_000 });
  });
});
