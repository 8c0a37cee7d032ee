import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { runJson } from "../../apps/api/src/respond";
import { failingScript, passingScript } from "@k6-gate/testkit/scripts";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

/** What /api/runs answers, per run. */
type RunJson = ReturnType<typeof runJson>;

const MAX_RUNS = 3;
const stack = useStack({
  redis: { appendonly: true },
  env: { HISTORY_MAX_RUNS_PER_CANARY: String(MAX_RUNS) },
});
let client: Redis;

beforeAll(async () => {
  client = new Redis(stack.redis.url);
});

afterAll(async () => {
  client?.disconnect();
});

const getJson = async <T>(path: string): Promise<T> => {
  const response = await fetch(`${stack.api.url}${path}`, {
    headers: { accept: "application/json" },
  });
  if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status}`);
  return (await response.json()) as T;
};
const history = async (name: string) =>
  (await getJson<{ runs: RunJson[] }>(`/api/canaries/test/${name}/runs`)).runs;
/** The worker prunes just after recording a verdict, so right after the webhook answers. */
const prunedHistory = (name: string) =>
  waitFor(`${name}'s history pruned to ${MAX_RUNS}`, async () => {
    const runs = await history(name);
    return runs.length === MAX_RUNS ? runs : undefined;
  });

describe("run history", () => {
  it("writes a compact record with the verdict, thresholds and metrics when a run completes", async () => {
    const script = failingScript(stack.target.port);
    const response = await postWebhook(
      stack.api.url,
      payloadOf({ name: "history", checksum: "rev-1", metadata: { script } }),
    );
    expect(response.status).toBe(422);
    const [run] = await history("history");
    expect(run).toMatchObject({
      namespace: "test",
      name: "history",
      checksum: "rev-1",
      phase: "Progressing",
      attempt: 1,
      status: "finished",
      verdict: "fail",
      outcome: "thresholds_failed",
      reason: expect.stringContaining("thresholds failed") as unknown,
      cloudUrl: null,
    });
    expect(run?.runKey).toMatch(/^k[0-9a-f]+$/);
    expect(run?.thresholds).toEqual([
      { metric: "http_req_failed", expression: "rate<0.01", ok: false, observed: 1 },
    ]);
    expect(run?.metrics?.httpReqFailedRate).toBe(1);
    expect(run?.metrics?.iterations).toBe(3);
    expect(run?.metrics?.httpReqDurationP95).toBeGreaterThan(0);
    // Instants are ISO 8601 in JSON.
    for (const instant of [run?.enqueuedAt, run?.startedAt, run?.finishedAt]) {
      expect(instant).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const [enqueuedAt, startedAt, finishedAt] = [
      run?.enqueuedAt,
      run?.startedAt,
      run?.finishedAt,
    ].map((instant) => Date.parse(String(instant)));
    expect(enqueuedAt).toBeLessThanOrEqual(startedAt ?? 0);
    expect(startedAt).toBeLessThanOrEqual(finishedAt ?? 0);

    const output = await getJson<{ status: string; output: string }>(`/api/runs/${run?.id}/output`);
    expect(output.status).toBe("finished");
    expect(output.output).toContain("http_req_failed");

    // Compact: the record holds no script (the job did; BullMQ prunes jobs).
    const hash = await client.hgetall(`${stack.env.QUEUE_PREFIX}:gate:run:${run?.id}`);
    expect(Object.keys(hash)).not.toContain("script");
    expect(JSON.stringify(hash)).not.toContain("http.get(");
  });

  it(`keeps the newest ${MAX_RUNS} runs of a canary and drops older ones with their output`, async () => {
    const [first] = await history("history");
    for (const checksum of ["rev-2", "rev-3", "rev-4"]) {
      const response = await postWebhook(
        stack.api.url,
        payloadOf({
          name: "history",
          checksum,
          metadata: { script: passingScript(stack.target.port) },
        }),
      );
      expect(response.status).toBe(200);
    }
    const runs = await prunedHistory("history");
    expect(runs.map((run) => run.checksum)).toEqual(["rev-4", "rev-3", "rev-2"]);
    expect((await fetch(`${stack.api.url}/api/runs/${first?.id}`)).status).toBe(404);
    expect(await client.exists(`${stack.env.QUEUE_PREFIX}:gate:output:${first?.id}`)).toBe(0);
  });

  it("survives a worker restart: old records stay, new runs join them", async () => {
    const before = await history("history");
    expect(await stack.worker.stop()).toBe(0);
    await stack.gate.restartWorker(stack.worker);
    expect(await history("history")).toEqual(before);

    const response = await postWebhook(
      stack.api.url,
      payloadOf({
        name: "history",
        checksum: "rev-5",
        metadata: { script: passingScript(stack.target.port) },
      }),
    );
    expect(response.status).toBe(200);
    const after = await prunedHistory("history");
    expect(after.map((run) => run.checksum)).toEqual(["rev-5", "rev-4", "rev-3"]);
    expect(after.slice(1)).toEqual(before.slice(0, 2));
  });

  it("survives a Redis restart too (AOF): the dashboard's history is not a cache", async () => {
    const before = await history("history");
    await stack.redis.stop();
    await stack.redis.start();
    // The API reconnects on its own (503 until then).
    const after = await waitFor("the API back on Redis", () =>
      history("history").catch(() => undefined),
    );
    expect(after).toEqual(before);
  });
});
