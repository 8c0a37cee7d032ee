import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiProcess } from "@k6-gate/testkit/k6gate";
import {
  ALLOWED_NAMESPACE,
  authRequest,
  hostileAuth,
  hostileBody,
  type Auth,
} from "./hostile-payloads";
import { MAX_BODY_BYTES } from "../../apps/api/src/config";
import { inProcessApi, type InProcessApi } from "./in-process-api";
import { rssOf } from "@k6-gate/testkit/proc";
import { useStack } from "@k6-gate/testkit/use-stack";

const TOKEN = `fuzz-${randomUUID()}`;
const SECURITY_ENV = { WEBHOOK_TOKEN: TOKEN, ALLOWED_NAMESPACES: ALLOWED_NAMESPACE };

const stack = useStack({ api: false, workers: 0 });
let inProcess: InProcessApi;

beforeAll(async () => {
  inProcess = await inProcessApi(stack.redis, SECURITY_ENV);
});

afterAll(async () => {
  await inProcess?.close();
});

const unauthorized = (auth: Auth) =>
  auth.kind === "missing" || (auth.kind === "wrong" && auth.token !== TOKEN);

/** What must hold for every answer to a hostile call. */
function expectRefusal(auth: Auth, body: string, status: number, text: string): void {
  if (unauthorized(auth)) {
    expect(status).toBe(401);
    expect(text).toBe("unauthorized");
    return;
  }
  expect([400, 403, 413]).toContain(status);
  // The body limit is exact: everything over it is 413, nothing under it.
  expect(status === 413).toBe(Buffer.byteLength(body) > MAX_BODY_BYTES);
  if (status === 400) expect(text.startsWith("invalid payload")).toBe(true);
  if (status === 403) expect(text).toMatch(/^namespace \S+ may not use this webhook$/);
}

/** fc.assert, but a failure names its seed and a short counterexample (bodies run to MBs). */
async function assertHostile(
  property: fc.IAsyncProperty<[string, Auth]>,
  numRuns: number,
): Promise<void> {
  const details = await fc.check(property, { numRuns, endOnFailure: true });
  if (!details.failed) return;
  const [body, auth] = details.counterexample ?? ["", { kind: "missing" }];
  throw new Error(
    `hostile call failed (seed ${details.seed}, path ${details.counterexamplePath}): ` +
      `auth ${JSON.stringify(auth)}, ${Buffer.byteLength(body)}-byte body ${JSON.stringify(body.slice(0, 300))}\n` +
      String(details.errorInstance),
  );
}

describe("fuzzing /launch-test with hostile payloads", () => {
  it("answers 400/401/403/413 to thousands of them in process, never 5xx, and nothing reaches Redis", async () => {
    const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    const statuses = new Map<number, number>();
    await assertHostile(
      fc.asyncProperty(hostileBody, hostileAuth, async (body, auth) => {
        const { path, headers } = authRequest(auth, TOKEN);
        const response = await inProcess.app.request(path, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body,
        });
        const text = await response.text();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        expectRefusal(auth, body, response.status, text);
      }),
      3_000,
    );
    // Every kind of refusal was exercised, not just one.
    for (const status of [400, 401, 403, 413]) expect(statuses.get(status)).toBeGreaterThan(10);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // At most BullMQ's version stamp (written as the queue starts) and the reconciler's lock
    // (renewed every RECONCILE_INTERVAL whatever the calls): no run, no job.
    const startup = [`${inProcess.prefix}:k6-runs:meta`, `${inProcess.prefix}:gate:reconcile-lock`];
    const keys = await inProcess.keys();
    expect(keys.filter((key) => !startup.includes(key))).toEqual([]);
  });
});

describe("fuzzing the real API process over HTTP", () => {
  let api: ApiProcess;

  beforeAll(async () => {
    api = await stack.fileGate(SECURITY_ENV).startApi();
  });
  const batch = (numRuns: number) =>
    assertHostile(
      fc.asyncProperty(hostileBody, hostileAuth, async (body, auth) => {
        const { path, headers } = authRequest(auth, TOKEN);
        let response: Response;
        try {
          response = await fetch(`${api.url}${path}`, {
            method: "POST",
            headers: { "content-type": "application/json", ...headers },
            body,
            signal: AbortSignal.timeout(10_000),
          });
        } catch (error) {
          // Past the body limit the server answers 413 at once, drains the rest for at most
          // 500 ms (@hono/node-server), then closes: on a busy machine the client, still
          // sending, may see the close before the answer. Either way the body was refused.
          if (Buffer.byteLength(body) > MAX_BODY_BYTES) return;
          throw error;
        }
        expectRefusal(auth, body, response.status, await response.text());
      }),
      numRuns,
    );

  it("stays up with bounded memory through two batches of hostile calls", async () => {
    const rssAtStart = rssOf(api.pid) ?? 0;
    await batch(400);
    const rssAfterFirst = rssOf(api.pid) ?? 0;
    await batch(400);
    const rssAfterSecond = rssOf(api.pid) ?? 0;
    console.info(
      `API RSS: start ${mb(rssAtStart)}, after 400 calls ${mb(rssAfterFirst)}, after 800 ${mb(rssAfterSecond)}`,
    );
    // No growth that keeps going (a leak), and well under the pod's 512Mi limit.
    expect(rssAfterSecond - rssAfterFirst).toBeLessThan(64 * 1024 * 1024);
    expect(rssAfterSecond).toBeLessThan(300 * 1024 * 1024);
    expect(api.child.exitCode).toBeNull();
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
    expect(api.output()).not.toMatch(/"level":(50|60)/); // no error or fatal logged
  });
});

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
