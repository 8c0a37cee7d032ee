import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { createLogger, type RunStore } from "@k6-gate/shared";
import { createApp } from "../../apps/api/src/app";
import { MAX_BODY_BYTES, apiConfigSchema } from "../../apps/api/src/config";
import { RunWaiter } from "../../apps/api/src/run-waiter";
import { payloadOf } from "@k6-gate/testkit/webhook";

/**
 * POST /launch-test's refusals, through the real app (`app.request()`, no port). Redis,
 * the store and the queue are stand-ins that fail the test if a refusal touches them: a 400,
 * 401 or 413 changes nothing and never reaches Redis. The same refusals on a real Redis and
 * over HTTP are in test/security and test/foundation.test.ts.
 */

/** Every use of a stand-in, as `store.decide`. */
const touched: string[] = [];

/** An object any use of which is recorded and throws; `given` holds what building reads. */
function untouchable<T>(name: string, given: Record<string, unknown> = {}): T {
  return new Proxy(
    {},
    {
      get(_target, property) {
        // Not a thenable; symbols are how runtimes inspect objects, not uses.
        if (typeof property === "symbol" || property === "then") return undefined;
        if (Object.hasOwn(given, property)) return given[property];
        touched.push(`${name}.${property}`);
        throw new Error(`${name}.${property} used`);
      },
    },
  ) as T;
}

const TOKEN = "s3cret-webhook-token";

function appWith(env: Record<string, string> = {}) {
  const config = apiConfigSchema.parse({ LOG_LEVEL: "silent", ...env });
  const store = untouchable<RunStore>("store");
  const waiter = new RunWaiter(untouchable<Redis>("subscriber"), store);
  const app = createApp({
    config,
    redis: untouchable<Redis>("redis"),
    store,
    details: untouchable("details"),
    // bull-board checks, when the app is built, that it was given a BullMQ queue.
    queue: untouchable<Queue>("queue", { name: "k6-runs", metaValues: { version: "bullmq:6" } }),
    waiter,
    logger: createLogger("k6-gate-api", "silent"),
  });
  // Watched (and still called through): a refusal takes no long-poll slot.
  return { app, config, lease: vi.spyOn(waiter, "lease") };
}

type TestApp = ReturnType<typeof appWith>;

async function post(
  { app }: TestApp,
  body: string,
  { path = "/launch-test", headers = {} }: { path?: string; headers?: Record<string, string> } = {},
) {
  const response = await app.request(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

const SCRIPT = "export default function () {}";
const json = (value: unknown) => JSON.stringify(value);
const withMetadata = (metadata: Record<string, string>) =>
  json(payloadOf({ metadata: { script: SCRIPT, ...metadata } }));

const open = appWith();
const guarded = appWith({ WEBHOOK_TOKEN: TOKEN });
beforeEach(() => {
  touched.length = 0;
  open.lease.mockClear();
  guarded.lease.mockClear();
});

afterEach(() => {
  // The refusal was decided before any Redis access, and before a long-poll slot.
  expect(touched, "a refused call used Redis, the store or the queue").toEqual([]);
  expect(open.lease).not.toHaveBeenCalled();
  expect(guarded.lease).not.toHaveBeenCalled();
});

const NOT_A_MAP = "must be an object of string values (Flagger sends map[string]string), got";
const NOT_AN_OBJECT =
  "body: must be a JSON object: Flagger's {name, namespace, phase, checksum, metadata}, got";
const NOT_A_NAME = "must be a Kubernetes object name (lowercase letters, digits, - and .)";

describe("400: the payload", () => {
  it.each([
    ["not JSON", "{not json", ["body: not valid JSON"]],
    ["an empty body", "", ["body: not valid JSON"]],
    ["JSON that is not an object", "[]", [`${NOT_AN_OBJECT} array`]],
    ["null", "null", [`${NOT_AN_OBJECT} null`]],
    ["no name", json({ namespace: "test", metadata: { script: SCRIPT } }), ["name: is required"]],
    [
      "an empty name",
      json(payloadOf({ name: "", metadata: { script: SCRIPT } })),
      ["name: is required"],
    ],
    [
      "a name that is not a string",
      json({ name: 42, namespace: "test", metadata: { script: SCRIPT } }),
      ["name: must be a string, got number"],
    ],
    [
      "a namespace that is not a Kubernetes name",
      json(payloadOf({ namespace: "Team_A", metadata: { script: SCRIPT } })),
      [`namespace: ${NOT_A_NAME}`],
    ],
    ["no metadata", json({ name: "podinfo", namespace: "test" }), ["metadata: is required"]],
    [
      "metadata that is a string",
      json({ name: "podinfo", namespace: "test", metadata: SCRIPT }),
      [`metadata: ${NOT_A_MAP} string`],
    ],
    [
      "metadata that is a list",
      json({ name: "podinfo", namespace: "test", metadata: [SCRIPT] }),
      [`metadata: ${NOT_A_MAP} array`],
    ],
    [
      "a misspelled script key",
      json({ name: "podinfo", namespace: "test", metadata: { scirpt: SCRIPT } }),
      [
        'metadata.script: is required: the k6 script to run (metadata has "scirpt": did you mean script?)',
      ],
    ],
    [
      "metadata values that are not strings",
      json({
        name: "podinfo",
        namespace: "test",
        metadata: { script: SCRIPT, wait_for_results: false, max_duration: 60, env_vars: {} },
      }),
      [
        "metadata.wait_for_results: must be a string (Flagger sends map[string]string), got boolean",
        "metadata.max_duration: must be a string (Flagger sends map[string]string), got number",
        "metadata.env_vars: must be a string (Flagger sends map[string]string), got object",
      ],
    ],
    [
      "a phase or checksum that is not a string",
      json({ ...payloadOf({ metadata: { script: SCRIPT } }), phase: 1, checksum: null }),
      ["phase: must be a string, got number", "checksum: must be a string, got null"],
    ],
  ] as const)("%s", async (_case, body, problems) => {
    const answer = await post(open, body);
    expect(answer.status).toBe(400);
    expect(answer.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(answer.text).toBe(["invalid payload", ...problems.map((p) => `- ${p}`)].join("\n"));
  });
});

describe("400: each metadata key", () => {
  it.each([
    ["script", "", "is required: the k6 script to run"],
    ["upload_to_cloud", "yes", 'must be "true" or "false", got "yes"'],
    ["wait_for_results", "maybe", 'must be "true" or "false", got "maybe"'],
    [
      "slack_channels",
      Array.from({ length: 21 }, (_, i) => `#c${i}`).join(","),
      "at most 20 channels",
    ],
    ["notification_context", "x".repeat(64 * 1024 + 1), "is larger than 65536 bytes"],
    ["min_failure_delay", "soon", 'must be a duration like 30s, 2m or 1h, got "soon"'],
    ["env_vars", '{"TARGET": 8080}', "TARGET must be a string, got number"],
    ["kubernetes_secrets", '{"TOKEN": "not a ref!"}', 'TOKEN must be "[namespace/]secret/key"'],
    ["max_duration", "0s", "must be more than 0"],
    ["max_duration", "2h", "120m is over the server maximum 30m"],
    ["wait_timeout", "1 minute", 'must be a duration like 30s, 2m or 1h, got "1 minute"'],
    ["max_interrupted_iterations", "few", 'must be a whole number, 0 or more, got "few"'],
  ])("%s = %j", async (key, value, problem) => {
    const answer = await post(open, withMetadata({ [key]: value }));
    expect(answer.status).toBe(400);
    expect(answer.text).toBe(`invalid payload\n- metadata.${key}: ${problem}`);
  });

  it("lists several problems together, in one answer", async () => {
    const answer = await post(
      open,
      withMetadata({
        script: " ",
        wait_for_results: "nope",
        min_failure_delay: "2 minutes",
        env_vars: '{"PATH": "/tmp", "A": 1}',
        max_interrupted_iterations: "-3",
      }),
    );
    expect(answer.status).toBe(400);
    const lines = answer.text.split("\n");
    expect(lines[0]).toBe("invalid payload");
    expect(lines.slice(1).sort()).toEqual(
      [
        "- metadata.env_vars: A must be a string, got number",
        "- metadata.env_vars: PATH is set by k6-gate and cannot be overridden",
        '- metadata.max_interrupted_iterations: must be a whole number, 0 or more, got "-3"',
        '- metadata.min_failure_delay: must be a duration like 30s, 2m or 1h, got "2 minutes"',
        "- metadata.script: is required: the k6 script to run",
        '- metadata.wait_for_results: must be "true" or "false", got "nope"',
      ].sort(),
    );
  });

  it("lists problems of the payload's fields together", async () => {
    const answer = await post(open, json({ name: "Pod Info", namespace: "", metadata: "x" }));
    expect(answer.status).toBe(400);
    expect(answer.text).toBe(
      [
        "invalid payload",
        `- name: ${NOT_A_NAME}`,
        "- namespace: is required",
        `- metadata: ${NOT_A_MAP} string`,
      ].join("\n"),
    );
  });
});

describe("JSON answers when the client asks for JSON", () => {
  it("400: the problems as a list", async () => {
    const response = await open.app.request("/launch-test", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: withMetadata({ script: "", upload_to_cloud: "si" }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({
      error: "invalid payload",
      details: [
        "metadata.script: is required: the k6 script to run",
        'metadata.upload_to_cloud: must be "true" or "false", got "si"',
      ],
    });
  });

  it("400 for a body that is not JSON", async () => {
    const response = await open.app.request("/launch-test", {
      method: "POST",
      headers: { accept: "text/html, application/json;q=0.9" },
      body: "name=podinfo",
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: "invalid payload",
      details: ["body: not valid JSON"],
    });
  });

  it("413", async () => {
    const response = await open.app.request("/launch-test", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: withMetadata({ script: "x".repeat(MAX_BODY_BYTES) }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      error: `body larger than ${MAX_BODY_BYTES} bytes`,
      details: [],
    });
  });
});

describe("405: a method other than POST", () => {
  it.each(["GET", "HEAD", "PUT", "DELETE", "PATCH"])(
    "%s names the method it takes",
    async (method) => {
      const response = await open.app.request("/launch-test", { method });
      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toBe("POST");
      if (method !== "HEAD") expect(await response.text()).toMatch(/^\/launch-test takes POST/);
    },
  );

  it("shows a browser a page with a way back", async () => {
    const page = await guarded.app.request("/launch-test", { headers: { accept: "text/html" } });
    expect(page.status).toBe(405);
    expect(page.headers.get("allow")).toBe("POST");
    const html = await page.text();
    expect(html).toContain('<h1 id="error" data-status="405">Method not allowed</h1>');
    expect(html).toContain('href="/"');
  });
});

describe("413: a body over MAX_BODY_BYTES (twice the largest script)", () => {
  it("is refused before it is parsed, and the connection closed", async () => {
    for (const body of [
      withMetadata({ script: "x".repeat(MAX_BODY_BYTES) }),
      "{".repeat(MAX_BODY_BYTES + 1),
    ]) {
      const answer = await post(open, body);
      expect(answer.status).toBe(413);
      expect(answer.text).toBe(`body larger than ${MAX_BODY_BYTES} bytes`);
      expect(answer.headers.get("connection")).toBe("close");
    }
    expect(open.lease).not.toHaveBeenCalled();
  });

  it("lets a body of exactly MAX_BODY_BYTES through to validation", async () => {
    // JSON's own whitespace pads it: no metadata value grows past its own limit.
    const base = withMetadata({ script: "" });
    const body = base + " ".repeat(MAX_BODY_BYTES - Buffer.byteLength(base));
    expect(Buffer.byteLength(body)).toBe(MAX_BODY_BYTES);
    const answer = await post(open, body);
    expect(answer.status).toBe(400);
    expect(answer.text).toBe(
      "invalid payload\n- metadata.script: is required: the k6 script to run",
    );
  });
});

describe("401: WEBHOOK_TOKEN is set", () => {
  it("refuses a call without the token, or with a wrong one, before reading the body", async () => {
    const body = "{not json";
    for (const request of [
      {},
      { path: "/launch-test?token=" },
      { path: `/launch-test?token=${TOKEN}-not` },
      { headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}` } },
      { headers: { authorization: TOKEN } },
    ]) {
      const answer = await post(guarded, body, request);
      expect(answer.status).toBe(401);
      expect(answer.text).toBe("unauthorized");
    }
  });

  it("validates the payload of a call with the token", async () => {
    const query = await post(guarded, "{not json", { path: `/launch-test?token=${TOKEN}` });
    expect(query.status).toBe(400);
    const bearer = await post(guarded, withMetadata({ wait_for_results: "maybe" }), {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(bearer.status).toBe(400);
    expect(bearer.text).toBe(
      'invalid payload\n- metadata.wait_for_results: must be "true" or "false", got "maybe"',
    );
  });

  it("refuses an oversized body without the token as 401, not 413", async () => {
    const answer = await post(guarded, "x".repeat(MAX_BODY_BYTES + 1));
    expect(answer.status).toBe(401);
  });
});

describe("the stand-ins", () => {
  it("catch a call that reaches the store: a valid payload does", async () => {
    const answer = await post(open, withMetadata({}));
    // The stand-in throws a plain error: to the app, a bug (500), not an outage.
    expect(answer.status).toBe(500);
    expect(open.lease).toHaveBeenCalledTimes(1);
    expect(touched).toEqual(["store.decide"]);
    // Not a refusal: let afterEach check the refusals only.
    touched.length = 0;
    open.lease.mockClear();
  });
});
