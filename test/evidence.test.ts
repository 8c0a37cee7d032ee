import { beforeAll, describe, expect, it } from "vitest";
import { freePort } from "@k6-gate/testkit/ports";
import { passingScript } from "@k6-gate/testkit/scripts";
import { useStack } from "@k6-gate/testkit/use-stack";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";

/**
 * README, "No pass without evidence": k6 exits 0 in each of these cases, and
 * flagger-k6-webhook promotes the canary; k6-gate answers 422 naming what is missing.
 */

const stack = useStack({ workerEnv: { MAX_RUN_DURATION: "60s" } });
/** A port on 127.0.0.1 where nothing listens: every request gets "connection refused". */
let refusedPort: number;

beforeAll(async () => {
  refusedPort = await freePort();
});

let checksum = 0;
const call = (metadata: Record<string, string>) =>
  postWebhook(stack.api.url, payloadOf({ checksum: `evidence-${++checksum}`, metadata }));

/** Iterations 1-3 throw before their check; the others check a 200 from the target. */
const warmUpScript = () => `
import http from 'k6/http';
import { check } from 'k6';
export const options = { vus: 1, iterations: 10, thresholds: { checks: ['rate>0.9'] } };
export default function () {
  if (__ITER < 3) throw new Error('cache still cold');
  const res = http.get('http://127.0.0.1:${stack.target.port}/ok');
  check(res, { 'status is 200': (r) => r.status === 200 });
}
`;

describe("no pass without evidence (real k6)", () => {
  it("422 when every iteration throws before its check (the body of a refused request)", async () => {
    const response = await call({
      script: `
import http from 'k6/http';
import { check } from 'k6';
export const options = { vus: 1, iterations: 5, thresholds: { checks: ['rate>0.9'] } };
export default function () {
  const health = http.get('http://127.0.0.1:${refusedPort}/health').json();
  check(health, { 'is up': (h) => h.status === 'up' });
}
`,
    });
    expect(response.status).toBe(422);
    expect(response.text).toContain("FAIL test/podinfo (no_evidence)");
    expect(response.text).toContain(
      "no iteration completed (5 interrupted by exceptions: GoError: the body is null",
    );
    expect(response.text).toContain("threshold checks 'rate>0.9' has no samples");
  });

  it("422 when a threshold's sub-metric gets no sample", async () => {
    const response = await call({
      script: `
import http from 'k6/http';
import { check } from 'k6';
export const options = {
  vus: 1,
  iterations: 3,
  thresholds: { checks: ['rate==1'], 'http_req_duration{scenario:nope}': ['p(95)<500'] },
};
export default function () {
  check(http.get('http://127.0.0.1:${stack.target.port}/ok'), { 'status is 200': (r) => r.status === 200 });
}
`,
    });
    expect(response.status).toBe(422);
    expect(response.text).toContain("(no_evidence)");
    expect(response.text).toContain(
      "threshold http_req_duration{scenario:nope} 'p(95)<500' has no samples",
    );
    expect(response.text).not.toContain("no iteration completed");
  });

  it("422 when the test ends before any iteration finishes (sleep past the duration, no max_duration)", async () => {
    const response = await call({
      script: `
import { sleep, check } from 'k6';
export const options = {
  scenarios: { main: { executor: 'constant-vus', vus: 1, duration: '2s', gracefulStop: '0s' } },
};
export default function () {
  sleep(30);
  check(true, { 'slept': (ok) => ok });
}
`,
    });
    expect(response.status).toBe(422);
    expect(response.text).toContain("(no_evidence)");
    expect(response.text).toContain("no iteration completed");
  });

  it("passes with exceptions within max_interrupted_iterations, and fails on them by default", async () => {
    const allowed = await call({ script: warmUpScript(), max_interrupted_iterations: "5" });
    expect(allowed.text).toContain("PASS test/podinfo");
    expect(allowed.status).toBe(200);

    const byDefault = await call({ script: warmUpScript() });
    expect(byDefault.status).toBe(422);
    expect(byDefault.text).toContain(
      "3 iterations interrupted by exceptions (max_interrupted_iterations 0): Error: cache still cold",
    );
  });

  it("400 naming max_interrupted_iterations when it is not a whole number", async () => {
    const response = await call({ script: warmUpScript(), max_interrupted_iterations: "-1" });
    expect(response.status).toBe(400);
    expect(response.text).toContain(
      'metadata.max_interrupted_iterations: must be a whole number, 0 or more, got "-1"',
    );
  });

  it("still passes a script with evidence", async () => {
    const response = await call({ script: passingScript(stack.target.port) });
    expect(response.text).toContain("PASS test/podinfo");
    expect(response.status).toBe(200);
  });
});
