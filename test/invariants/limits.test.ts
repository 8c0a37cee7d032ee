import { describe, expect, it } from "vitest";
import { runsOf } from "@k6-gate/testkit/runs";
import { sleepingScript } from "@k6-gate/testkit/scripts";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

/** Limits that protect the service: what they promise callers must be true. */
const stack = useStack({ api: false, workers: 0 });

const accepted = (apiUrl: string, name: string, script: string) =>
  postWebhook(apiUrl, payloadOf({ name, metadata: { script, wait_for_results: "false" } }));

describe("backlog Retry-After", () => {
  it("is within 2x of the real wait until the backlog has room", async () => {
    const gate = stack.testGate({ MAX_QUEUE_DEPTH: "2", WORKER_CONCURRENCY: "1" });
    const api = await gate.startApi();
    await gate.startWorker();
    // One run judged first, so the API knows how long runs take here.
    const warmUp = await postWebhook(
      api.url,
      payloadOf({
        name: "warm-up",
        metadata: { script: sleepingScript(stack.target.port, 3), wait_timeout: "30s" },
      }),
    );
    expect(warmUp.status).toBe(200);

    for (const name of ["a", "b", "c"]) {
      expect((await accepted(api.url, name, sleepingScript(stack.target.port, 3))).status).toBe(
        202,
      );
    }
    await waitFor("one run running, two queued", async () =>
      (await runsOf(api.url, "a"))[0]?.status === "running" ? true : undefined,
    );
    const full = await accepted(api.url, "d", sleepingScript(stack.target.port, 3));
    expect(full.status).toBe(429);
    const retryAfterMs = Number(full.headers.get("retry-after")) * 1000;
    const refusedAt = Date.now();
    await waitFor(
      "the backlog to have room",
      async () =>
        (await accepted(api.url, "d", sleepingScript(stack.target.port, 3))).status === 202,
      { timeoutMs: 60_000, everyMs: 100 },
    );
    const waitedMs = Date.now() - refusedAt;
    console.info(`Retry-After ${retryAfterMs} ms; the backlog had room after ${waitedMs} ms`);
    expect(retryAfterMs).toBeLessThanOrEqual(2 * waitedMs);
    expect(waitedMs).toBeLessThanOrEqual(2 * retryAfterMs);
  }, 90_000);
});

describe("MAX_LONG_POLLS", () => {
  it("is never exceeded by a burst of calls arriving at once", async () => {
    const gate = stack.testGate({ MAX_LONG_POLLS: "5" });
    const api = await gate.startApi();
    await gate.startWorker();
    const payload = payloadOf({
      metadata: { script: sleepingScript(stack.target.port, 3), wait_timeout: "30s" },
    });
    const responses = await Promise.all(
      Array.from({ length: 40 }, () => postWebhook(api.url, payload)),
    );
    const held = responses.filter((r) => r.status !== 429);
    const refused = responses.filter((r) => r.status === 429);
    expect(held.length).toBeGreaterThanOrEqual(1);
    expect(held.length).toBeLessThanOrEqual(5);
    expect(refused[0]?.text).toContain("too many calls waiting");
    expect(new Set(held.map((r) => r.status))).toEqual(new Set([200]));
  });
});
