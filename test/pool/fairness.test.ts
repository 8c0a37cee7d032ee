import { describe, expect, it } from "vitest";
import type { ApiProcess } from "@k6-gate/testkit/k6gate";
import { k6Wrapper } from "@k6-gate/testkit/k6-wrapper";
import { runsOf } from "@k6-gate/testkit/runs";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

/**
 * Sharing workers between namespaces, on real processes: one team's burst must not hold
 * back another team's first check by more than a run slot, and MAX_RUNS_PER_OWNER caps
 * a namespace's k6 at once (with no tokens, each namespace is an owner). Each k6 is tagged with its namespace (env_vars TEST_TAG) and the
 * k6 wrapper logs the order in which they start and end.
 */
const stack = useStack({ api: false, workers: 0 });

/** Half a second of k6, then a pass. */
const brief = (port: number) => `
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 1, iterations: 1, thresholds: { http_req_failed: ['rate<0.01'] } };
export default function () { http.get('http://127.0.0.1:${port}/ok'); sleep(0.5); }
`;

/** A check of `namespace/name` that answers 202 at once (the run goes on). */
async function submit(api: ApiProcess, namespace: string, name: string): Promise<void> {
  const response = await postWebhook(
    api.url,
    payloadOf({
      namespace,
      name,
      metadata: {
        script: brief(stack.target.port),
        wait_for_results: "false",
        env_vars: JSON.stringify({ TEST_TAG: namespace }),
      },
    }),
  );
  expect(response.status).toBe(202);
}

/**
 * team-a submits 30 checks, then team-b one. Returns how many of team-a's runs started
 * (START, as the run records say) after team-b's check was queued and before it started.
 */
async function burstThenOne(api: ApiProcess): Promise<number> {
  const teamA = Array.from({ length: 30 }, (_, i) => `a-${i}`);
  await Promise.all(teamA.map((name) => submit(api, "team-a", name)));
  await submit(api, "team-b", "b-0");
  const b = await waitFor(
    "team-b's check to start",
    async () => {
      const [run] = await runsOf(api.url, "b-0", "team-b");
      return run?.startedAt ? run : undefined;
    },
    { timeoutMs: 30_000 },
  );
  const started = await Promise.all(
    teamA.map(async (name) => (await runsOf(api.url, name, "team-a"))[0]?.startedAt ?? null),
  );
  return started.filter((at) => at !== null && at >= b.enqueuedAt && at <= (b.startedAt ?? 0))
    .length;
}

describe("fair sharing between namespaces", () => {
  it("starts team-b's check before at most 2 more of team-a's 30 (2 slots)", async () => {
    const gate = stack.testGate({ WORKER_CONCURRENCY: "2" });
    const api = await gate.startApi();
    await gate.startWorker();
    const overtaking = await burstThenOne(api);
    console.log(`team-a runs started while team-b's waited: ${overtaking}`);
    expect(overtaking).toBeLessThanOrEqual(2);
  });

  it("runs one team-a k6 at a time with MAX_RUNS_PER_OWNER=1, while team-b gets the other slot", async () => {
    const k6 = k6Wrapper();
    const gate = stack.testGate({
      K6_BIN: k6.bin,
      WORKER_CONCURRENCY: "2",
      MAX_RUNS_PER_OWNER: "1",
    });
    const api = await gate.startApi();
    await gate.startWorker();
    const overtaking = await burstThenOne(api);
    console.log(`team-a runs started while team-b's waited (cap 1): ${overtaking}`);
    expect(overtaking).toBeLessThanOrEqual(2);
    await waitFor(
      "team-b's check and 4 of team-a's to finish",
      () => k6.endsOf("team-b") === 1 && k6.endsOf("team-a") >= 4,
      { timeoutMs: 30_000 },
    );
    expect(k6.maxConcurrent("team-a")).toBe(1);
    expect((await runsOf(api.url, "b-0", "team-b"))[0]?.verdict).toBe("pass");
  });

  it("shows a queued run's place and estimated start in the 503 body and the JSON", async () => {
    const gate = stack.testGate();
    const api = await gate.startApi();
    await gate.startWorker();
    // One slot: a first check runs, three more wait behind it.
    await submit(api, "team-a", "first");
    await waitFor("the first check to run", async () => {
      const [run] = await runsOf(api.url, "first", "team-a");
      return run?.status === "running";
    });
    for (const name of ["q-0", "q-1"]) await submit(api, "team-a", name);
    const waited = await postWebhook(
      api.url,
      payloadOf({
        namespace: "team-c",
        name: "late",
        metadata: { script: brief(stack.target.port), wait_timeout: "200ms" },
      }),
      { headers: { accept: "text/plain" } },
    );
    expect(waited.status).toBe(503);
    // team-c has nothing in flight: it goes ahead of team-a's second and third.
    expect(waited.text).toContain("place in the queue: 1 of 3 (0 runs ahead)");
    expect(waited.text).toMatch(/estimated start: in about \S+ \(\d{4}-/);
    const [late] = await runsOf(api.url, "late", "team-c");
    const json = (await (await fetch(`${api.url}/api/runs/${late!.id}`)).json()) as {
      queue: { position: number; ahead: number; queued: number; estimatedStartAt: number };
    };
    expect(json.queue).toMatchObject({ position: 1, ahead: 0, queued: 3 });
    expect(json.queue.estimatedStartAt).toBeGreaterThan(late!.enqueuedAt);
  });
});
