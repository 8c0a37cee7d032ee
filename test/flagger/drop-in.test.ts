import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { RUN_QUEUE } from "@k6-gate/shared";
import { callFlagger } from "@k6-gate/testkit/flagger";
import { k6Wrapper } from "@k6-gate/testkit/k6-wrapper";
import { freePort } from "@k6-gate/testkit/ports";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

/**
 * A flagger-k6-webhook user's Canary works unchanged (docs/migrating.md), through Flagger's own
 * client, and their mistakes are named. Every request goes to 127.0.0.1 only.
 */
const k6 = k6Wrapper();
const stack = useStack({ env: { K6_BIN: k6.bin } });

/** Runs about `seconds` seconds against `path`, with the thresholds of a real check. */
const steadyScript = (seconds: number, path: "ok" | "fail") => `
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 1, duration: '${seconds}s', thresholds: { http_req_failed: ['rate<0.01'] } };
export default function () { http.get('http://127.0.0.1:${stack.target.port}/${path}'); sleep(1); }
`;

/** Counts the k6 runs `call` causes. */
async function k6RunsOf<T>(call: () => Promise<T>): Promise<{ result: T; runs: number }> {
  const before = k6.starts();
  const result = await call();
  return { result, runs: k6.starts() - before };
}

describe("the Canary from flagger-k6-webhook's README (timeout 5m, no retries, no wait_timeout)", () => {
  it("passes a 15 s test in one attempt, on one k6 run", async () => {
    const { result, runs } = await k6RunsOf(() =>
      callFlagger({
        url: stack.api.url,
        name: "peer-good",
        timeout: "5m",
        metadata: { script: steadyScript(15, "ok") },
      }),
    );
    expect(result).toMatchObject({ ok: true, error: "" });
    expect(runs).toBe(1);
  }, 90_000);

  it("fails a 15 s test whose threshold fails, naming the threshold", async () => {
    const { result, runs } = await k6RunsOf(() =>
      callFlagger({
        url: stack.api.url,
        name: "peer-bad",
        timeout: "5m",
        metadata: { script: steadyScript(15, "fail") },
      }),
    );
    expect(result.ok).toBe(false);
    expect(result.error).toContain("http_req_failed 'rate<0.01' observed 100.00%");
    expect(runs).toBe(1);
  }, 90_000);
});

describe("a test longer than Flagger's timeout, with retries and no wait_timeout", () => {
  it("passes a 10 s test with timeout 3s and retries 8, on one k6 run", async () => {
    const { result, runs } = await k6RunsOf(() =>
      callFlagger({
        url: stack.api.url,
        name: "retried",
        timeout: "3s",
        retries: 8,
        metadata: { script: steadyScript(10, "ok") },
      }),
    );
    expect(result).toMatchObject({ ok: true, error: "" });
    expect(runs).toBe(1);
  }, 120_000);
});

describe("mistakes are named", () => {
  const quickScript = () => `
import http from 'k6/http';
export const options = { vus: 1, iterations: 2, thresholds: { http_req_failed: ['rate<0.01'] } };
export default function () { http.get('http://127.0.0.1:${stack.target.port}/ok'); }
`;

  it("runs despite an unknown metadata key, and names it with the key it resembles", async () => {
    const response = await postWebhook(
      stack.api.url,
      payloadOf({
        name: "typo",
        metadata: { script: quickScript(), wait_timout: "30s" },
      }),
    );
    expect(response.status).toBe(200);
    expect(response.text).toContain(
      'warning: metadata key "wait_timout" is not one k6-gate knows (did you mean wait_timeout?)',
    );
    await stack.api.waitForOutput(/metadata not understood/);
  });

  it("fails a script with no thresholds against a dead target: no response is no evidence", async () => {
    const refused = await freePort(); // nothing listens there
    const script = `
import http from 'k6/http';
export const options = { vus: 1, iterations: 3 };
export default function () { http.get('http://127.0.0.1:${refused}/'); }
`;
    const response = await postWebhook(
      stack.api.url,
      payloadOf({ name: "blind", metadata: { script } }),
    );
    expect(response.status).toBe(422);
    const [first] = response.text.split("\n");
    expect(first).toContain("k6-gate: FAIL test/blind (no_evidence)");
    expect(response.text).toContain(
      "no HTTP request got a response (3 requests: connection refused, reset or timed out)",
    );
    expect(response.text).toContain("warning: no thresholds: k6 judged nothing");
  });

  it("fails a script with no thresholds where the server sets REQUIRE_THRESHOLDS", async () => {
    const strict = stack.testGate({ REQUIRE_THRESHOLDS: "true" });
    const strictApi = await strict.startApi();
    await strict.startWorker();
    const script = `export const options = { iterations: 1 }; export default function () {}`;
    const response = await postWebhook(
      strictApi.url,
      payloadOf({ name: "strict", metadata: { script } }),
    );
    expect(response.status).toBe(422);
    expect(response.text).toContain(
      "the script defines no thresholds (this server sets REQUIRE_THRESHOLDS)",
    );
  });

  it("reports the observed p(99) of a failed p(99) threshold", async () => {
    const script = `
import http from 'k6/http';
export const options = { vus: 1, iterations: 5, thresholds: { http_req_duration: ['p(99)<0.001'] } };
export default function () { http.get('http://127.0.0.1:${stack.target.port}/ok'); }
`;
    const response = await postWebhook(
      stack.api.url,
      payloadOf({ name: "p99", metadata: { script } }),
    );
    expect(response.status).toBe(422);
    expect(response.text).toMatch(/http_req_duration 'p\(99\)<0\.001' observed \d+(\.\d+)? ?ms/);
    expect(response.text).not.toContain("n/a");
  });

  it("keeps the verdict under 1 KB however many thresholds fail", async () => {
    const thresholds = Array.from({ length: 40 }, (_, i) => `'p(${50 + i})<0.001'`).join(", ");
    const script = `
import http from 'k6/http';
export const options = { vus: 1, iterations: 3, thresholds: { http_req_duration: [${thresholds}] } };
export default function () { http.get('http://127.0.0.1:${stack.target.port}/ok'); }
`;
    const response = await postWebhook(
      stack.api.url,
      payloadOf({ name: "many", metadata: { script } }),
    );
    expect(response.status).toBe(422);
    expect(Buffer.byteLength(response.text)).toBeLessThan(1024);
    expect(response.text).toMatch(/^run \S+, attempt 1/m);
    expect(response.text).toContain("more failed thresholds");
  });
});

describe("flagger-k6-webhook's surface", () => {
  it("answers /health like /healthz", async () => {
    const response = await fetch(`${stack.api.url}/health`);
    expect(response.status).toBe(200);
  });

  it("reads the peer's LISTEN_PORT and MAX_CONCURRENT_TESTS, saying what to rename", async () => {
    const port = await freePort();
    // The stack's queue (its env, QUEUE_PREFIX included), killed after this test.
    const peer = stack.testGate(stack.env);
    const peerApi = await peer.startApi({}, { port, portVariable: "LISTEN_PORT" });
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    expect(peerApi.output()).toContain("LISTEN_PORT is flagger-k6-webhook's name for PORT");

    const peerWorker = await peer.startWorker({ MAX_CONCURRENT_TESTS: "3" });
    expect(peerWorker.output()).toContain("MAX_CONCURRENT_TESTS is flagger-k6-webhook's name");
    expect(peerWorker.output()).toContain('"maxConcurrentRuns":3');
    const client = new Redis(stack.redis.url);
    const queue = new Queue(RUN_QUEUE, { connection: client, prefix: stack.env.QUEUE_PREFIX });
    try {
      expect(await queue.getGlobalConcurrency()).toBe(3);
    } finally {
      await queue.close();
      client.disconnect();
    }
  });
});
