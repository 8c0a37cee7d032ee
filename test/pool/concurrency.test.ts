import { describe, expect, it } from "vitest";
import type { ApiProcess } from "@k6-gate/testkit/k6gate";
import { k6Wrapper } from "@k6-gate/testkit/k6-wrapper";
import { runsOf } from "@k6-gate/testkit/runs";
import { waitFor } from "@k6-gate/testkit/wait";
import type { GateProcesses } from "@k6-gate/testkit/stack";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

// Processes of both describes are stopped after the file: backpressure's tests share theirs.
const stack = useStack({ api: false, workers: 0 });

/** About one second of k6 against /ok (pass) or /fail (fail). */
const shortScript = (path: "ok" | "fail") => `
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { iterations: 1, thresholds: { http_req_failed: ['rate<0.01'] } };
export default function () { http.get('http://127.0.0.1:${stack.target.port}/${path}'); sleep(1); }
`;

describe("concurrency limits", () => {
  it("judges 12 canaries correctly with 2 workers x 2 and never more than 3 k6 at once", async () => {
    const k6 = k6Wrapper();
    const gate = stack.fileGate({
      K6_BIN: k6.bin,
      WORKER_CONCURRENCY: "2",
      MAX_CONCURRENT_RUNS: "3",
    });
    const api = await gate.startApi();
    await gate.startWorker();
    await gate.startWorker();
    const canaries = Array.from(
      { length: 12 },
      (_, i) => ({ name: `canary-${i}`, path: i % 3 === 0 ? "fail" : "ok" }) as const,
    );
    const responses = await Promise.all(
      canaries.map((c) =>
        postWebhook(
          api.url,
          payloadOf({
            name: c.name,
            metadata: { script: shortScript(c.path), wait_timeout: "60s" },
          }),
        ),
      ),
    );
    responses.forEach((response, i) =>
      expect(response.status).toBe(canaries[i]?.path === "ok" ? 200 : 422),
    );
    expect(k6.starts()).toBe(12);
    expect(k6.maxConcurrent()).toBeLessThanOrEqual(3);
    expect(k6.maxConcurrent()).toBeGreaterThanOrEqual(2);
  });
});

describe("backpressure", () => {
  let api: ApiProcess;
  let gate: GateProcesses;

  it("answers 429 with Retry-After over MAX_QUEUE_DEPTH, still attaches to queued keys, and accepts again below it", async () => {
    gate = stack.fileGate({ MAX_QUEUE_DEPTH: "2" });
    api = await gate.startApi();
    const call = (name: string) =>
      postWebhook(
        api.url,
        payloadOf({ name, metadata: { script: shortScript("ok"), wait_for_results: "false" } }),
      );
    expect((await call("a")).status).toBe(202);
    expect((await call("b")).status).toBe(202);
    const rejected = await call("c");
    expect(rejected.status).toBe(429);
    expect(Number(rejected.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(rejected.text).toContain("MAX_QUEUE_DEPTH 2");
    // A key already queued is not new load: it attaches.
    expect((await call("a")).status).toBe(202);
    expect(await runsOf(api.url, "a")).toHaveLength(1);

    await gate.startWorker();
    await waitFor(
      "the backlog to drain",
      async () => (await runsOf(api.url, "b"))[0]?.status === "finished",
      { timeoutMs: 20_000 },
    );
    expect((await call("c")).status).toBe(202);
  });

  it("shows queue wait and run time per run", async () => {
    const response = await fetch(`${api.url}/api/runs?namespace=test&name=b`);
    const { runs } = (await response.json()) as {
      runs: {
        queueWaitMs: number | null;
        runTimeMs: number | null;
        enqueuedAt: string;
        startedAt: string;
        finishedAt: string;
      }[];
    };
    const [run] = runs;
    // Instants are ISO 8601 in JSON; durations milliseconds.
    expect(run?.queueWaitMs).toBe(
      Date.parse(run?.startedAt ?? "") - Date.parse(run?.enqueuedAt ?? ""),
    );
    expect(run?.runTimeMs).toBeGreaterThanOrEqual(1000);
  });
});
