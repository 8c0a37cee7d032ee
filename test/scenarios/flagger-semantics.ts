import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { callFlagger } from "@k6-gate/testkit/flagger";
import type { ApiProcess } from "@k6-gate/testkit/k6gate";
import { k6Wrapper, type K6Wrapper } from "@k6-gate/testkit/k6-wrapper";
import type { RedisUnderTest } from "@k6-gate/testkit/redis-under-test";
import { runsOf } from "@k6-gate/testkit/runs";
import { failingScript, passingScript, sleepingScript } from "@k6-gate/testkit/scripts";
import { GateProcesses } from "@k6-gate/testkit/stack";
import { startTarget, type Target } from "@k6-gate/testkit/target";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";

/**
 * docs/architecture.md, sections 1 and 3 (one run per check, whatever the retries, the API replicas or an API
 * restart), driven through Flagger's own webhook client where the client's behaviour
 * (timeouts, retries, Retry-After) is what is being tested, on `redis`, which the calling
 * test file starts: test/flagger/semantics.test.ts on one redis-server,
 * test/redis/cluster.test.ts on a Redis Cluster.
 */
export function flaggerSemanticsScenarios(redis: () => RedisUnderTest): void {
  let target: Target;
  let gate: GateProcesses | undefined;
  let k6: K6Wrapper;

  beforeAll(async () => {
    target = await startTarget();
  });
  afterAll(async () => {
    await target?.close();
  });
  afterEach(async () => {
    await gate?.stop();
    gate = undefined;
  });

  /** A fresh stack per test: its own queue prefix, k6 counter, API and one worker. */
  async function stack(apiCount = 1): Promise<ApiProcess[]> {
    k6 = k6Wrapper();
    const started = new GateProcesses(redis().url, redis().env({ K6_BIN: k6.bin }));
    gate = started;
    const apis = await Promise.all(Array.from({ length: apiCount }, () => started.startApi()));
    await started.startWorker();
    return apis;
  }

  describe("one run per check", () => {
    it("runs k6 once for 20 concurrent identical calls, and all 20 get the same verdict", async () => {
      const [api] = await stack();
      const body = payloadOf({ metadata: { script: failingScript(target.port) } });
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => postWebhook(api!.url, body)),
      );
      expect(k6.starts()).toBe(1);
      expect(new Set(responses.map((r) => r.status))).toEqual(new Set([422]));
      expect(new Set(responses.map((r) => r.text)).size).toBe(1);
      expect(responses[0]?.text).toContain("http_req_failed 'rate<0.01' observed 100.00%");
    });

    it("starts a new run for a new checksum, and for the same checksum with another script", async () => {
      const [api] = await stack();
      const call = (revision: string, script: string) =>
        callFlagger({ url: api!.url, revision, metadata: { script } });
      expect((await call("rev-a", passingScript(target.port))).ok).toBe(true);
      expect((await call("rev-b", passingScript(target.port))).ok).toBe(true);
      expect(k6.starts()).toBe(2);
      const other = `${passingScript(target.port)}\n// another script\n`;
      expect((await call("rev-b", other)).ok).toBe(true);
      expect(k6.starts()).toBe(3);
      expect(new Set((await runsOf(api!.url)).map((run) => run.checksum)).size).toBe(2);
    });

    it("answers two API processes sharing one Redis with one run", async () => {
      const [a, b] = await stack(2);
      const metadata = { script: sleepingScript(target.port, 1) };
      const [first, second] = await Promise.all([
        callFlagger({ url: a!.url, metadata }),
        callFlagger({ url: b!.url, metadata }),
      ]);
      expect(first?.ok && second?.ok).toBe(true);
      expect(k6.starts()).toBe(1);
      expect(await runsOf(a!.url)).toHaveLength(1);
    });
  });

  describe("Flagger's timeouts and retries", () => {
    it("hands a verdict Flagger timed out on to the next call, then starts afresh", async () => {
      const [api] = await stack();
      const metadata = { script: sleepingScript(target.port, 6) };
      const first = await callFlagger({ url: api!.url, timeout: "2s", metadata });
      expect(first.ok).toBe(false);
      expect(first.error).toContain("Client.Timeout exceeded");
      // The run goes on without a caller; wait until it has its verdict.
      await waitFor(
        "the run to finish",
        async () => (await runsOf(api!.url))[0]?.status === "finished",
        { timeoutMs: 20_000 },
      );
      expect((await runsOf(api!.url))[0]?.delivered).toBe(false);

      const second = await callFlagger({ url: api!.url, timeout: "2s", metadata });
      expect(second.ok).toBe(true);
      expect(k6.starts()).toBe(1);
      await waitFor("delivery recorded", async () => (await runsOf(api!.url))[0]?.delivered);

      // The next `rollout` iteration: the verdict was delivered, so a fresh test runs.
      const third = await callFlagger({
        url: api!.url,
        timeout: "10s",
        metadata: { ...metadata, script: sleepingScript(target.port, 1) },
      });
      expect(third.ok).toBe(true);
      const fourth = await callFlagger({
        url: api!.url,
        timeout: "10s",
        metadata: { ...metadata, script: sleepingScript(target.port, 1) },
      });
      expect(fourth.ok).toBe(true);
      expect(k6.starts()).toBe(3);
    });

    it("passes a 6-second test with timeout 3s and retries 5 on one k6 run (503 + Retry-After)", async () => {
      const [api] = await stack();
      const result = await callFlagger({
        url: api!.url,
        timeout: "3s",
        retries: 5,
        metadata: { script: sleepingScript(target.port, 6), wait_timeout: "2s" },
      });
      expect(result.error).toBe("");
      expect(result.ok).toBe(true);
      expect(k6.starts()).toBe(1);
      const [run] = await runsOf(api!.url);
      expect(run?.delivered).toBe(true);
    });

    it("answers 503 with Retry-After while the run is still going", async () => {
      const [api] = await stack();
      const body = payloadOf({
        metadata: { script: sleepingScript(target.port, 3), wait_timeout: "500ms" },
      });
      const response = await postWebhook(api!.url, body);
      expect(response.status).toBe(503);
      expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(response.text).toContain("retry to get its verdict");
      const final = await waitFor(
        "the verdict",
        async () => {
          const again = await postWebhook(api!.url, body);
          return again.status === 503 ? undefined : again;
        },
        { timeoutMs: 20_000, everyMs: 500 },
      );
      expect(final.status).toBe(200);
      expect(k6.starts()).toBe(1);
    });
  });

  describe("min_failure_delay", () => {
    it("fails at once without a run inside the delay, and runs again after it", async () => {
      const [api] = await stack();
      const metadata = { script: failingScript(target.port), min_failure_delay: "3s" };
      const first = await callFlagger({ url: api!.url, metadata });
      expect(first.error).toContain("thresholds_failed");
      const second = await callFlagger({ url: api!.url, metadata });
      expect(second.ok).toBe(false);
      expect(second.error).toContain("min_failure_delay");
      expect(second.error).toContain("http_req_failed");
      expect(k6.starts()).toBe(1);
      const [failed] = await runsOf(api!.url);
      await waitFor(
        "min_failure_delay to pass",
        () => Date.now() > (failed?.finishedAt ?? 0) + 3000,
        { timeoutMs: 10_000, everyMs: 100 },
      );
      const third = await callFlagger({ url: api!.url, metadata });
      expect(third.error).toContain("thresholds_failed");
      expect(k6.starts()).toBe(2);
    });
  });

  describe("API restart", () => {
    it("reattaches the next call to the same run after the API is killed mid-poll", async () => {
      const [api] = await stack();
      const body = payloadOf({
        metadata: { script: sleepingScript(target.port, 4), wait_timeout: "60s" },
      });
      const pending = postWebhook(api!.url, body).catch((error: unknown) => error);
      await waitFor(
        "the run to start",
        async () => (await runsOf(api!.url))[0]?.status === "running",
        { timeoutMs: 10_000 },
      );
      await api!.stop("SIGKILL");
      expect(await pending).toBeInstanceOf(Error);

      const restarted = await gate!.startApi({}, { port: api!.port });
      const response = await postWebhook(restarted.url, body);
      expect(response.status).toBe(200);
      expect(k6.starts()).toBe(1);
      const runs = await runsOf(restarted.url);
      expect(runs).toHaveLength(1);
      expect(runs[0]?.delivered).toBe(true);
    });
  });
}
