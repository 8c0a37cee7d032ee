import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runsWithoutJob } from "@k6-gate/testkit/in-flight";
import { runsOf } from "@k6-gate/testkit/runs";
import { sleepingScript } from "@k6-gate/testkit/scripts";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

/**
 * The run store's invariants (docs/architecture.md, section 3) with processes killed for real: every run counted as queued or
 * running has a live job or ends; a verdict Redis refuses is retried until it lands; only
 * the current attempt of a run records its verdict and output.
 */
const stack = useStack({ api: false, workers: 0 });
let client: Redis;

beforeAll(async () => {
  // CONFIG SET and KEYS are not k6-gate's commands: the default user inspects.
  client = new Redis(stack.redis.adminUrl);
});
afterAll(async () => {
  client?.disconnect();
});
afterEach(async () => {
  await client.config("SET", "maxmemory", "0");
});

const quickScript = "export default function () {}";

describe("a crash between deciding a run and queueing its job", () => {
  it("leaves no run counted without a job: re-queued within the reconcile interval, then run", async () => {
    const gate = stack.testGate({
      LOCK_DURATION: "4s", // the reconciler runs every quarter of it: 1s
      MAX_QUEUE_DEPTH: "150",
      WORKER_CONCURRENCY: "4",
    });
    const prefix = gate.env.QUEUE_PREFIX as string;
    const api = await gate.startApi();
    // 100 new canaries at once, no worker yet; the API dies mid-burst.
    const calls = Array.from({ length: 100 }, (_, i) =>
      postWebhook(
        api.url,
        payloadOf({
          name: `burst-${i}`,
          metadata: { script: quickScript, wait_for_results: "false" },
        }),
      ).catch(() => undefined),
    );
    await waitFor("half the burst decided", async () =>
      (await client.scard(`${prefix}:gate:queued`)) >= 50 ? true : undefined,
    );
    await api.stop("SIGKILL");
    await Promise.all(calls);
    const orphans = await runsWithoutJob(client, prefix);
    console.info(`runs left without a job by the crash: ${orphans.length}`);

    // The API comes back; no worker yet: the reconciler re-queues every orphan.
    const restarted = await gate.startApi();
    await waitFor(
      "every run counted as queued to have a job",
      async () => ((await runsWithoutJob(client, prefix)).length === 0 ? true : undefined),
      { timeoutMs: 5000 },
    );
    const fresh = await postWebhook(
      restarted.url,
      payloadOf({
        name: "after-crash",
        metadata: { script: quickScript, wait_for_results: "false" },
      }),
    );
    expect(fresh.status).toBe(202);

    // Workers start: every abandoned run is run (or ended) and nothing stays counted.
    await gate.startWorker();
    await gate.startWorker();
    await waitFor(
      "every run to be judged",
      async () => {
        const [queued, running] = await Promise.all([
          client.scard(`${prefix}:gate:queued`),
          client.scard(`${prefix}:gate:running`),
        ]);
        return queued + running === 0 ? true : undefined;
      },
      { timeoutMs: 120_000, everyMs: 500 },
    );
    const runKeys = await client.keys(`${prefix}:gate:run:*`);
    const statuses = await Promise.all(runKeys.map((key) => client.hget(key, "status")));
    expect(statuses.length).toBeGreaterThan(50);
    expect(new Set(statuses)).toEqual(new Set(["finished"]));
  }, 180_000);
});

describe("a verdict Redis refuses", () => {
  it("is retried until it lands once Redis takes writes again: no run stays running", async () => {
    const gate = stack.testGate();
    const api = await gate.startApi();
    const worker = await gate.startWorker();
    const verdict = postWebhook(
      api.url,
      payloadOf({
        metadata: { script: sleepingScript(stack.target.port, 2), wait_timeout: "60s" },
      }),
    );
    await waitFor("the run to start", async () =>
      (await runsOf(api.url))[0]?.status === "running" ? true : undefined,
    );
    // Out of memory: Redis refuses every write, the verdict included.
    await client.config("SET", "maxmemory", "1");
    await worker.waitForOutput(/verdict not recorded; retrying/, 30_000);
    await client.config("SET", "maxmemory", "0");

    const response = await verdict;
    expect(response.status).toBe(200);
    const [run] = await runsOf(api.url);
    expect(run).toMatchObject({ status: "finished", verdict: "pass" });
  });
});

describe("two attempts of one run", () => {
  it("keeps only the current attempt's verdict, output and attempt number", async () => {
    const gate = stack.testGate({ LOCK_DURATION: "2s" });
    const prefix = gate.env.QUEUE_PREFIX as string;
    const api = await gate.startApi();
    const frozen = await gate.startWorker();
    // Each attempt prints when it started, so the stored output names its attempt.
    const script = `
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 1, iterations: 1 };
export function setup() { console.log('attempt-started-at ' + Date.now()); }
export default function () { http.get('http://127.0.0.1:${stack.target.port}/ok'); sleep(4); }
`;
    const verdict = postWebhook(api.url, payloadOf({ metadata: { script, wait_timeout: "60s" } }));
    await waitFor("the run to start", async () =>
      (await runsOf(api.url))[0]?.status === "running" ? true : undefined,
    );
    // The first worker freezes past its lock; a second one takes the run up.
    frozen.child.kill("SIGSTOP");
    const taker = await gate.startWorker();
    const response = await verdict;
    expect(response.status).toBe(200);
    const [run] = await runsOf(api.url);
    expect(run).toMatchObject({ status: "finished", attempt: 2 });
    expect(response.text).toContain("attempt 2");

    // The frozen attempt resumes and finishes late: it is refused, and says so.
    frozen.child.kill("SIGCONT");
    await frozen.waitForOutput(/stale attempt: its verdict and output were dropped/, 30_000);
    const record = await client.hgetall(`${prefix}:gate:run:${run?.id}`);
    expect(record.attempt).toBe("2");
    expect(record.worker).toMatch(new RegExp(`-${taker.pid}$`));
    const output = (await client.get(`${prefix}:gate:output:${run?.id}`)) ?? "";
    const startedAt = Number(/attempt-started-at (\d+)/.exec(output)?.[1]);
    expect(startedAt).toBeGreaterThanOrEqual(Number(record.startedAt));
    await taker.waitForOutput(/"msg":"run finished"/);
    expect(frozen.output()).not.toMatch(/"msg":"run finished"/);
  }, 90_000);
});
