import { randomUUID } from "node:crypto";
import { Agent, request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadApiConfig } from "../../apps/api/src/config";
import type { ApiProcess } from "@k6-gate/testkit/k6gate";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, type CanaryCall } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";
import { inProcessApi, type InProcessApi } from "./in-process-api";

const TOKEN = `guard-${randomUUID()}`;
const SCRIPT = "export default function () {}";

const stack = useStack({ api: false, workers: 0 });
let guarded: InProcessApi;

beforeAll(async () => {
  guarded = await inProcessApi(stack.redis, {
    WEBHOOK_TOKEN: TOKEN,
    ALLOWED_NAMESPACES: "team-a|team-b",
  });
});

afterAll(async () => {
  await guarded?.close();
});

let checksum = 0;
/** A valid call that does not wait for a verdict: 202 once it passes every guard. */
function body(call: Partial<CanaryCall> = {}): string {
  return JSON.stringify(
    payloadOf({
      namespace: "team-a",
      checksum: `rev-${++checksum}`,
      ...call,
      metadata: { script: SCRIPT, wait_for_results: "false", ...call.metadata },
    }),
  );
}

async function post(
  api: InProcessApi,
  payload: string,
  {
    path = `/launch-test?token=${TOKEN}`,
    headers = {},
  }: { path?: string; headers?: Record<string, string> } = {},
) {
  const response = await api.app.request(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: payload,
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

describe("webhook token", () => {
  it("answers 401 without detail when the token is missing or wrong", async () => {
    const answers = await Promise.all([
      post(guarded, body(), { path: "/launch-test" }),
      post(guarded, body(), { path: "/launch-test?token=wrong" }),
      post(guarded, body(), { path: `/launch-test?token=${TOKEN}x` }),
      post(guarded, body(), { path: "/launch-test", headers: { authorization: "Bearer wrong" } }),
      post(guarded, body(), { path: "/launch-test", headers: { authorization: TOKEN } }),
      // A wrong bearer is the credential presented, even with the right query token.
      post(guarded, body(), { headers: { authorization: "Bearer wrong" } }),
    ]);
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(answer.text).toBe("unauthorized");
    }
  });

  it("accepts the right token as a bearer header (any case) or a query parameter", async () => {
    const answers = await Promise.all([
      post(guarded, body(), {
        path: "/launch-test",
        headers: { authorization: `Bearer ${TOKEN}` },
      }),
      post(guarded, body(), {
        path: "/launch-test",
        headers: { authorization: `bearer ${TOKEN}` },
      }),
      post(guarded, body()),
      // Another scheme (a dashboard's basic auth) does not hide the query token.
      post(guarded, body(), { headers: { authorization: "Basic dXNlcjpwYXNz" } }),
    ]);
    for (const answer of answers) expect(answer.status).toBe(202);
  });

  it("checks the token before reading the body", async () => {
    const answer = await post(guarded, "x".repeat(2 * 1024 * 1024), { path: "/launch-test" });
    expect(answer.status).toBe(401);
  });

  it("is not asked for when no token is configured", async () => {
    const open = await inProcessApi(stack.redis);
    try {
      expect(
        (await post(open, body({ namespace: "anywhere" }), { path: "/launch-test" })).status,
      ).toBe(202);
    } finally {
      await open.close();
    }
  });
});

describe("namespace allow-list", () => {
  it("accepts a namespace the whole pattern matches", async () => {
    expect((await post(guarded, body({ namespace: "team-a" }))).status).toBe(202);
    expect((await post(guarded, body({ namespace: "team-b" }))).status).toBe(202);
  });

  it("answers 403 naming the namespace when it does not match as a whole", async () => {
    for (const namespace of ["team-c", "team-a-evil", "xteam-a", "team", "team-ab"]) {
      const answer = await post(guarded, body({ namespace }));
      expect(answer.status).toBe(403);
      expect(answer.text).toBe(`namespace ${namespace} may not use this webhook`);
    }
  });

  it("is compiled once, at start, and a bad pattern stops the process there", () => {
    const config = loadApiConfig({ ALLOWED_NAMESPACES: " prod-.* " });
    expect(config.ALLOWED_NAMESPACES).toBeInstanceOf(RegExp);
    expect(config.ALLOWED_NAMESPACES?.test("prod-eu")).toBe(true);
    expect(config.ALLOWED_NAMESPACES?.test("staging-prod-eu")).toBe(false);
    expect(() => loadApiConfig({ ALLOWED_NAMESPACES: "team-(a" })).toThrow(
      "ALLOWED_NAMESPACES: must be a valid regular expression",
    );
  });
});

describe("limits, each a 4xx naming the problem", () => {
  const bad = async (metadata: Record<string, string>) => {
    const answer = await post(guarded, body({ metadata: { script: SCRIPT, ...metadata } }));
    expect(answer.status).toBe(400);
    return answer.text;
  };
  const many = (n: number, value: (i: number) => string) =>
    JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`V${i}`, value(i)])));

  it("413 for a body over MAX_BODY_BYTES", async () => {
    const answer = await post(guarded, body({ metadata: { script: "x".repeat(600 * 1024) } }));
    expect(answer.status).toBe(413);
    expect(answer.text).toBe("body larger than 524288 bytes");
    expect(answer.headers.get("connection")).toBe("close");
  });

  it("400 for a script over 256 KiB or another metadata value over 64 KiB", async () => {
    expect(await bad({ script: "x".repeat(256 * 1024 + 1) })).toContain(
      "metadata.script: is larger than 262144 bytes",
    );
    expect(await bad({ notification_context: "é".repeat(32 * 1024 + 1) })).toContain(
      "metadata.notification_context: is larger than 65536 bytes",
    );
  });

  it("400 for more than 100 env_vars or kubernetes_secrets, or 20 Slack channels", async () => {
    expect(await bad({ env_vars: many(101, () => "x") })).toContain(
      "metadata.env_vars: at most 100 variables",
    );
    expect(await bad({ kubernetes_secrets: many(101, (i) => `secret/key${i}`) })).toContain(
      "metadata.kubernetes_secrets: at most 100 variables",
    );
    const channels = Array.from({ length: 21 }, (_, i) => `#c${i}`).join(",");
    expect(await bad({ slack_channels: channels })).toContain(
      "metadata.slack_channels: at most 20 channels",
    );
  });

  it("400 for a max_duration over the server's MAX_RUN_DURATION", async () => {
    expect(await bad({ max_duration: "2h" })).toContain(
      "metadata.max_duration: 120m is over the server maximum 30m",
    );
  });

  it("400 for variables k6-gate sets or that would weaken k6's isolation", async () => {
    const text = await bad({
      env_vars: JSON.stringify({
        PATH: "/tmp",
        K6_AUTO_EXTENSION_RESOLUTION: "true",
        K6_ADDRESS: "0.0.0.0:6565",
        K6_WEB_DASHBOARD: "true",
        LD_PRELOAD: "/tmp/evil.so",
        K6_BROWSER_EXECUTABLE_PATH: "/usr/local/bin/node",
        K6_BROWSER_ARGS: "eval=process.exit(0)",
        K6_OUT: "json=out.json,web-dashboard",
      }),
      kubernetes_secrets: JSON.stringify({ K6_CLOUD_TOKEN: "ns/secret/key" }),
    });
    expect(text).toContain("metadata.env_vars: PATH is set by k6-gate and cannot be overridden");
    expect(text).toContain("metadata.env_vars: K6_AUTO_EXTENSION_RESOLUTION is set by k6-gate");
    expect(text).toContain("metadata.env_vars: LD_PRELOAD is not allowed");
    for (const name of [
      "K6_ADDRESS",
      "K6_WEB_DASHBOARD",
      "K6_BROWSER_EXECUTABLE_PATH",
      "K6_BROWSER_ARGS",
      "K6_OUT",
    ]) {
      expect(text).toContain(
        `metadata.env_vars: ${name} is not one of the k6 settings a canary may set`,
      );
    }
    expect(text).toContain("metadata.kubernetes_secrets: K6_CLOUD_TOKEN is set by k6-gate");
  });

  it("lists the first 100 problems of a hostile payload, then counts the rest", async () => {
    const metadata = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`k${i}`, i]));
    const answer = await post(
      guarded,
      JSON.stringify({ ...payloadOf({ metadata: {} }), metadata }),
    );
    expect(answer.status).toBe(400);
    const lines = answer.text.split("\n");
    expect(lines).toHaveLength(1 + 100 + 1);
    // 5,000 values that are not strings, and no script.
    expect(lines.at(-1)).toBe("- ... and 4901 more problems");
  });

  it("429 with Retry-After past MAX_LONG_POLLS calls waiting on one API process", async () => {
    const small = await inProcessApi(stack.redis, { MAX_LONG_POLLS: "1" });
    try {
      // No worker runs: the first call waits on its run and holds the only slot.
      const waiting = post(
        small,
        body({ metadata: { script: SCRIPT, wait_for_results: "true", wait_timeout: "30s" } }),
        {
          path: "/launch-test",
        },
      );
      await waitFor("the first call to wait", () => small.waiter.inFlight === 1);
      const refused = await post(small, body(), { path: "/launch-test" });
      expect(refused.status).toBe(429);
      expect(refused.text).toBe("too many calls waiting on this API instance");
      expect(refused.headers.get("retry-after")).toBe("5");
      small.waiter.releaseAll();
      expect((await waiting).status).toBe(503);
    } finally {
      await small.close();
    }
  });
});

describe("prototype pollution", () => {
  it("cannot reach Object.prototype through the body, metadata or env_vars", async () => {
    const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    const polluting = [
      `{"__proto__":{"polluted":"body"},"name":"podinfo","namespace":"team-a","metadata":{"script":"x","wait_for_results":"false"}}`,
      `{"name":"podinfo","namespace":"team-a","metadata":{"__proto__":{"polluted":"metadata"},"script":"x","wait_for_results":"false"}}`,
      `{"name":"podinfo","namespace":"team-a","metadata":{"__proto__":"x","script":"x","wait_for_results":"false"}}`,
      body({ metadata: { env_vars: `{"__proto__":{"polluted":"env"}}` } }),
      body({ metadata: { env_vars: `{"constructor":{"prototype":{"polluted":"env"}}}` } }),
      body({ metadata: { kubernetes_secrets: `{"__proto__":"ns/secret/key"}` } }),
    ];
    for (const payload of polluting) {
      const answer = await post(guarded, payload);
      expect([202, 400], `${answer.status} ${answer.text} for ${payload}`).toContain(answer.status);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
  });

  it("refuses __proto__ as a variable name (it would vanish on the way to k6)", async () => {
    const answer = await post(guarded, body({ metadata: { env_vars: `{"__proto__":"x"}` } }));
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('metadata.env_vars: "__proto__" is not a valid variable name');
  });
});

describe("the real API process over HTTP", () => {
  let api: ApiProcess;

  beforeAll(async () => {
    api = await stack.fileGate({ WEBHOOK_TOKEN: TOKEN }).startApi();
  });
  /** POSTs on one kept-alive connection, as a pooling client (Flagger's) does. */
  function postKeptAlive(agent: Agent, payload: string | Buffer[]): Promise<number> {
    return new Promise((resolve, reject) => {
      const chunked = Array.isArray(payload);
      const req = request(
        `${api.url}/launch-test?token=${TOKEN}`,
        {
          method: "POST",
          agent,
          headers: {
            "content-type": "application/json",
            ...(chunked ? {} : { "content-length": Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      if (chunked) for (const chunk of payload) req.write(chunk);
      req.end(chunked ? undefined : payload);
    });
  }

  it("413 for an oversized chunked body (no Content-Length), and the client's next call works", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const chunks = Array.from({ length: 10 }, () => Buffer.alloc(100 * 1024, "x"));
      expect(await postKeptAlive(agent, chunks)).toBe(413);
      const big = body({ metadata: { script: "x".repeat(700 * 1024) } });
      for (let i = 0; i < 3; i++) {
        expect(await postKeptAlive(agent, big)).toBe(413);
        expect(await postKeptAlive(agent, "{")).toBe(400);
      }
    } finally {
      agent.destroy();
    }
  });
});
