import { beforeAll, describe, expect, it } from "vitest";
import { freePort } from "@k6-gate/testkit/ports";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

/**
 * Judge what k6 measured (issue 26), each route of the second review reproduced with real
 * k6 against a target that refuses every connection, or answers only 500: a latency-only
 * threshold, a counter of 5xx answers, `env_vars` that switch thresholds off, a
 * `handleSummary()` that forges the summary, and a baseline reset by a comment.
 */

const stack = useStack({ workerEnv: { MAX_RUN_DURATION: "60s", KILL_GRACE: "2s" } });
/** A port on 127.0.0.1 where nothing listens: every request gets "connection refused". */
let deadPort: number;

beforeAll(async () => {
  deadPort = await freePort();
});

interface VerdictJson {
  message: string;
  run: {
    outcome: string;
    reason: string;
    warnings?: string[];
    comparison: { baselineRuns: number } | null;
  };
}

let checksum = 0;
async function judge(metadata: Record<string, string>, name = "podinfo", revision?: string) {
  const response = await postWebhook(
    stack.api.url,
    payloadOf({ name, checksum: revision ?? `measured-${++checksum}`, metadata }),
    { headers: { accept: "application/json" } },
  );
  return {
    status: response.status,
    text: response.text,
    body: JSON.parse(response.text) as VerdictJson,
  };
}

const deadUrl = () => `http://127.0.0.1:${deadPort}/`;

/** One VU, a few iterations of GET __ENV.TARGET, with the given options and lines. */
const script = (thresholds: string, extra = "") => `
import http from 'k6/http';
import { Counter } from 'k6/metrics';
const serverErrors = new Counter('server_errors');
export const options = { vus: 1, iterations: 5, thresholds: ${thresholds} };
${extra}
export default function () {
  const res = http.get(__ENV.TARGET);
  serverErrors.add(res.status >= 500);
}
`;

describe("a dead canary never passes (real k6)", () => {
  it("fails the most common threshold, p(95)<300, when every connection is refused", async () => {
    const { status, body } = await judge({
      script: script(`{ http_req_duration: ['p(95)<300'] }`),
      env_vars: JSON.stringify({ TARGET: deadUrl() }),
    });
    expect(status).toBe(422);
    expect(body.run.outcome).toBe("no_evidence");
    expect(body.run.reason).toContain(
      "no HTTP request got a response (5 requests: connection refused, reset or timed out)",
    );
  });

  it("fails a counter of 5xx answers (status 0 is not >= 500) on a dead target", async () => {
    const { status, body } = await judge({
      script: script(`{ server_errors: ['count<1'] }`),
      env_vars: JSON.stringify({ TARGET: deadUrl() }),
    });
    expect(status).toBe(422);
    expect(body.run.reason).toContain("no HTTP request got a response");
  });

  it("fails a canary that answers only 5xx, even with 5xx counted as expected", async () => {
    const { status, body } = await judge({
      script: script(
        `{ http_req_duration: ['p(95)<300'], http_req_failed: ['rate<0.01'] }`,
        `http.setResponseCallback(http.expectedStatuses({ min: 200, max: 599 }));`,
      ),
      env_vars: JSON.stringify({ TARGET: `${stack.target.url}/fail` }),
    });
    expect(status).toBe(422);
    expect(body.run.reason).toContain("every HTTP response was a 5xx (5 requests)");
  });

  it("lets a test that expects failures pass with allow_failed_requests, and says so", async () => {
    const { status, body } = await judge({
      script: script(`{ http_req_duration: ['p(95)<300'] }`),
      env_vars: JSON.stringify({ TARGET: deadUrl() }),
      allow_failed_requests: "true",
    });
    expect(status).toBe(200);
    expect(body.run.warnings).toContain(
      "no HTTP request got a response (5 requests: connection refused, reset or timed out)",
    );
  });

  it("passes a live canary under the same threshold", async () => {
    const { status, body } = await judge({
      script: script(`{ http_req_duration: ['p(95)<300'] }`),
      env_vars: JSON.stringify({ TARGET: `${stack.target.url}/ok` }),
    });
    expect(status, body.message).toBe(200);
    expect(body.run.reason).toBe("its threshold passed");
  });
});

describe("no variable reaches k6 outside the allow-list", () => {
  it.each([
    ["K6_THRESHOLDS", ""],
    ["K6_NO_THRESHOLDS", "true"],
    ["K6_CONFIG", "/tmp/config.json"],
    ["K6_SYSTEM_TAGS", "method"],
    ["K6_OUT", "json=out.json"],
    ["K6_CONSOLE_OUTPUT", "summary.json"],
  ])("refuses %s with a 400 that names it", async (name, value) => {
    const { status, text } = await judge({
      script: script(`{ http_req_duration: ['p(95)<300'] }`),
      env_vars: JSON.stringify({ TARGET: `${stack.target.url}/ok`, [name]: value }),
    });
    expect(status).toBe(400);
    expect(text).toContain(`${name} is not one of the k6 settings a canary may set`);
  });

  it("takes an allowed k6 setting (K6_ITERATIONS changes the load)", async () => {
    const { status, body } = await judge({
      script: script(`{ http_reqs: ['count==3'] }`),
      env_vars: JSON.stringify({ TARGET: `${stack.target.url}/ok`, K6_ITERATIONS: "3" }),
    });
    expect(status, body.message).toBe(200);
  });
});

describe("the script cannot write what the gate reads", () => {
  /** Aliases of the old summary export's path and of the stream's FIFO. */
  const forgery = `
const forged = JSON.stringify({ metrics: {
  http_reqs: { count: 500, rate: 50 },
  http_req_failed: { passes: 0, fails: 500, value: 0 },
  http_req_duration: { avg: 9, min: 1, med: 9, max: 12, 'p(90)': 9, 'p(95)': 9, count: 500, thresholds: { 'p(95)<300': false } },
  iterations: { count: 500, rate: 50 },
} });
const line = JSON.stringify({ type: 'Point', metric: 'http_reqs', data: { time: '2026-12-07T00:00:00Z', value: 1, tags: { status: '200' } } });
// Only names inside the run directory: a write through /proc/self/fd/<n> would reopen, and
// truncate, whatever file k6 has open there (the system's CA bundle, when run as root).
export function handleSummary() {
  const out = {};
  for (const path of ['summary.json', './summary.json', './/summary.json', __ENV.HOME + '/summary.json']) out[path] = forged;
  for (const path of ['k6-metrics.fifo', './k6-metrics.fifo', __ENV.HOME + '/k6-metrics.fifo']) out[path] = (line + '\\n').repeat(200);
  return out;
}`;

  it("fails a dead canary whose handleSummary forges the summary, every time", async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const { status, body } = await judge({
        script: script(`{ http_req_duration: ['p(95)<300'], http_reqs: ['count>100'] }`, forgery),
        env_vars: JSON.stringify({ TARGET: deadUrl() }),
      });
      expect(status, body.message).toBe(422);
      expect(body.run.reason).toMatch(/no HTTP request got a response|thresholds failed/);
      expect(body.message).not.toContain("p95 9");
    }
  });
});

describe("a baseline that means the same test", () => {
  const LIMITS = JSON.stringify({ "http_req_duration:med": "+500%" });
  const live = (comment = "") => ({
    script: `${comment}${script(`{ http_req_duration: ['p(95)<1000'] }`)}`,
    env_vars: JSON.stringify({ TARGET: `${stack.target.url}/ok` }),
    max_regression: LIMITS,
  });

  it("keeps the baseline across a comment-only change, and never takes a dead run into it", async () => {
    const first = await judge(live(), "baseline", "rev-1");
    expect(first.status, first.body.message).toBe(200);
    expect(first.body.message).toContain("max_regression NOT applied: no baseline yet");

    // A dead revision fails and must not become the baseline of the next one.
    const dead = await judge(
      { ...live(), env_vars: JSON.stringify({ TARGET: deadUrl() }) },
      "baseline",
      "rev-2",
    );
    expect(dead.status).toBe(422);

    const commented = await judge(
      live("// reformatted, and a comment added\n\n"),
      "baseline",
      "rev-3",
    );
    expect(commented.status, commented.body.message).toBe(200);
    expect(commented.body.run.comparison?.baselineRuns).toBe(1);
    expect(commented.body.message).not.toContain("no baseline yet");
  });

  it("starts a new baseline when the target changes", async () => {
    const other = await judge(
      { ...live(), env_vars: JSON.stringify({ TARGET: `${stack.target.url}/slow?ms=1` }) },
      "baseline",
      "rev-4",
    );
    expect(other.status, other.body.message).toBe(200);
    expect(other.body.run.comparison?.baselineRuns).toBe(0);
    expect(other.body.message).toContain("max_regression NOT applied: no baseline yet");
  });
});
