import { afterAll, describe, expect, it } from "vitest";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { startFakeK6Cloud, type FakeK6Cloud } from "./fake-k6-cloud";
import { runIdIn } from "@k6-gate/testkit/runs";
import { useStack } from "@k6-gate/testkit/use-stack";
import { storedTextOf } from "./redis-view";

const CLOUD_TOKEN = "k6-cloud-token-of-the-worker";
const STACK_ID = "4242";
const DEFAULT_PROJECT = "77";

let cloud: FakeK6Cloud;
const stack = useStack({
  env: { WORKER_METRICS_PORT: "0" },
  workerEnv: async () => {
    cloud = await startFakeK6Cloud();
    return {
      K6_CLOUD_TOKEN: CLOUD_TOKEN,
      K6_CLOUD_STACK_ID: STACK_ID,
      K6_CLOUD_PROJECT_ID: DEFAULT_PROJECT,
      K6_CLOUD_HOST: cloud.url,
    };
  },
});
afterAll(async () => {
  await cloud?.close();
});

/** Fails (script exception) unless env_vars arrived and the cloud token did not. */
const cloudScript = (port: number, options = "") => `
import http from 'k6/http';
if (__ENV.GREETING !== 'hello') throw new Error('env_vars missing');
if (__ENV.K6_CLOUD_TOKEN !== undefined) throw new Error('the cloud token reached the script');
export const options = { iterations: 2, thresholds: { http_req_failed: ['rate<0.01'] }${options} };
export default function () { http.get('http://127.0.0.1:${port}/ok'); }
`;

let checksum = 0;
const call = (metadata: Record<string, string>) =>
  postWebhook(
    stack.api.url,
    payloadOf({
      checksum: `cloud-${++checksum}`,
      metadata: {
        upload_to_cloud: "true",
        env_vars: JSON.stringify({ GREETING: "hello" }),
        ...metadata,
      },
    }),
  );

const projectsAsked = (from: number) =>
  cloud.requests
    .slice(from)
    .flatMap((r) => /^\/cloud\/v6\/projects\/(\d+)\/load_tests$/.exec(r.path)?.[1] ?? []);

describe("upload_to_cloud: k6 cloud run --local-execution", () => {
  it("streams the run with the worker's account and names the cloud run in the verdict", async () => {
    const from = cloud.requests.length;
    const response = await call({ script: cloudScript(stack.target.port) });
    expect(response.text).toContain("PASS test/podinfo");
    expect(response.status).toBe(200);
    // k6 cloud run streams its metrics only to the cloud: the verdict says what it read.
    expect(response.text).toContain("warning: figures from k6's summary export");
    const cloudUrl = /k6 Cloud: (\S+)/.exec(response.text)?.[1];
    expect(cloudUrl).toMatch(/^https:\/\/k6gate-test\.grafana\.net\/a\/k6-app\/runs\/\d+$/);

    const requests = cloud.requests.slice(from);
    expect(projectsAsked(from)).toEqual([DEFAULT_PROJECT]);
    const provisioning = requests.filter((r) => !r.path.startsWith("/v1/metrics"));
    expect(provisioning[0]?.authorization).toBe(`Bearer ${CLOUD_TOKEN}`);
    expect(provisioning[0]?.stackId).toBe(STACK_ID);
    expect(requests.some((r) => /\/test_runs\/\d+\/notify$/.test(r.path))).toBe(true);

    const runId = runIdIn(response.text);
    const record = (await (await fetch(`${stack.api.url}/api/runs/${runId}`)).json()) as {
      cloudUrl: string;
    };
    expect(record.cloudUrl).toBe(cloudUrl);
    const stored = await storedTextOf(stack.redis.url, stack.env.QUEUE_PREFIX ?? "", runId);
    expect(`${stored.job}${stored.record}`).not.toContain(CLOUD_TOKEN);
    expect(stack.worker.output()).not.toContain(CLOUD_TOKEN);
  });

  it("leaves the project to the script when it names one", async () => {
    const from = cloud.requests.length;
    const response = await call({
      script: cloudScript(stack.target.port, ", cloud: { projectID: 99 }"),
    });
    expect(response.status).toBe(200);
    expect(projectsAsked(from)).toEqual(["99"]);
  });

  it("refuses env_vars that would send the worker's token elsewhere, at the API", async () => {
    const from = cloud.requests.length;
    const response = await call({
      script: cloudScript(stack.target.port),
      env_vars: JSON.stringify({ GREETING: "hello", K6_CLOUD_HOST_V6: "http://127.0.0.1:9" }),
    });
    expect(response.status).toBe(400);
    expect(response.text).toContain(
      "K6_CLOUD_HOST_V6 is not one of the k6 settings a canary may set",
    );
    expect(cloud.requests.length).toBe(from);
  });

  it("fails plainly when k6 Cloud answers with errors", async () => {
    cloud.behaviour = "server_error";
    try {
      const response = await call({ script: cloudScript(stack.target.port) });
      expect(response.status).toBe(422);
      expect(response.text).toContain("FAIL test/podinfo (setup_failed)");
      expect(response.text).toContain("k6 Cloud upload failed, so the test did not run");
      expect(response.text).toContain("(500/error) internal error");
    } finally {
      cloud.behaviour = "ok";
    }
  });

  it("fails plainly when k6 Cloud rejects the token", async () => {
    cloud.behaviour = "unauthorized";
    try {
      const response = await call({ script: cloudScript(stack.target.port) });
      expect(response.status).toBe(422);
      expect(response.text).toContain("k6 Cloud upload failed, so the test did not run");
      expect(response.text).toContain("Invalid token");
    } finally {
      cloud.behaviour = "ok";
    }
  });

  it("fails plainly, without hanging, when k6 Cloud is unreachable", async () => {
    await cloud.close();
    const hits = stack.target.hits.get("/ok") ?? 0;
    const response = await call({ script: cloudScript(stack.target.port) });
    expect(response.status).toBe(422);
    expect(response.text).toContain("k6 Cloud upload failed, so the test did not run");
    expect(response.text).toContain("connection refused");
    expect(stack.target.hits.get("/ok") ?? 0).toBe(hits);
  });
});
