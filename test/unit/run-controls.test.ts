import { describe, expect, it } from "vitest";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { createLogger, type RunStore } from "@k6-gate/shared";
import { createApp } from "../../apps/api/src/app";
import { apiConfigSchema } from "../../apps/api/src/config";
import { estimateStartAt } from "../../apps/api/src/retry-after";
import { RunWaiter } from "../../apps/api/src/run-waiter";

/**
 * `POST /api/runs/:id/cancel`'s refusals through the real app (`app.request()`): each
 * happens before the store is touched (the stand-ins throw on any use). The cancel itself,
 * on real processes, is in test/pool/supersede.test.ts.
 */

/** An object any use of which throws; `given` holds what building the app reads. */
function untouchable<T>(name: string, given: Record<string, unknown> = {}): T {
  return new Proxy(
    {},
    {
      get(_target, property) {
        if (typeof property === "symbol" || property === "then") return undefined;
        if (Object.hasOwn(given, property)) return given[property];
        throw new Error(`${name}.${String(property)} used`);
      },
    },
  ) as T;
}

function appWith(env: Record<string, string> = {}) {
  const config = apiConfigSchema.parse({ LOG_LEVEL: "silent", ...env });
  const store = untouchable<RunStore>("store");
  return createApp({
    config,
    redis: untouchable<Redis>("redis"),
    store,
    details: untouchable("details"),
    queue: untouchable<Queue>("queue", { name: "k6-runs", metaValues: { version: "bullmq:6" } }),
    waiter: new RunWaiter(untouchable<Redis>("subscriber"), store),
    logger: createLogger("k6-gate-api", "silent"),
  });
}

const LOGIN = { DASHBOARD_USER: "ops", DASHBOARD_PASSWORD: "secret-password" };
const basic = `Basic ${Buffer.from("ops:secret-password").toString("base64")}`;

async function cancel(app: ReturnType<typeof appWith>, headers: Record<string, string>) {
  const response = await app.request("http://k6-gate.test/api/runs/k1-1/cancel", {
    method: "POST",
    headers: { host: "k6-gate.test", ...headers },
    body: JSON.stringify({ reason: "test" }),
  });
  return { status: response.status, text: await response.text() };
}

describe("POST /api/runs/:id/cancel", () => {
  it("is off without a dashboard login", async () => {
    const refused = await cancel(appWith(), { "content-type": "application/json" });
    expect(refused.status).toBe(403);
    expect(refused.text).toContain("set DASHBOARD_USER and DASHBOARD_PASSWORD");
  });

  it("needs the login when there is one", async () => {
    const refused = await cancel(appWith(LOGIN), { "content-type": "application/json" });
    expect(refused.status).toBe(401);
  });

  it.each([
    ["a form content type", { "content-type": "application/x-www-form-urlencoded" }, 415],
    ["text/plain (a no-cors fetch)", { "content-type": "text/plain" }, 415],
    ["no content type", {}, 415],
    [
      "a cross-site request",
      { "content-type": "application/json", "sec-fetch-site": "cross-site" },
      403,
    ],
    ["another origin", { "content-type": "application/json", origin: "https://evil.example" }, 403],
    ["a null origin", { "content-type": "application/json", origin: "null" }, 403],
  ])("refuses %s before touching any run", async (_what, headers, status) => {
    const refused = await cancel(appWith(LOGIN), { authorization: basic, ...headers });
    expect(refused.status).toBe(status);
  });
});

describe("estimateStartAt", () => {
  const now = 1_000_000;
  it("is unknown when nothing runs", () => {
    expect(estimateStartAt(0, [], 30_000, now)).toBeNull();
  });

  it("is when the first busy slot frees, for the next run", () => {
    expect(estimateStartAt(0, [now - 10_000, now - 20_000], 30_000, now)).toBe(now + 10_000);
  });

  it("gives each run ahead the next free slot for a run's time", () => {
    // Slots free at +10s and +20s; the runs ahead take them (then free at +40s, +50s).
    expect(estimateStartAt(2, [now - 20_000, now - 10_000], 30_000, now)).toBe(now + 40_000);
  });

  it("never says a start in the past for a run that overran its expected time", () => {
    expect(estimateStartAt(0, [now - 90_000], 30_000, now)).toBe(now);
  });
});
