import { describe, expect, it } from "vitest";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { createLogger, type RunStore } from "@k6-gate/shared";
import { createApp } from "../../apps/api/src/app";
import { apiConfigSchema } from "../../apps/api/src/config";
import { RunWaiter } from "../../apps/api/src/run-waiter";

/**
 * An error k6-gate has no answer for is a bug, not an outage (issue 32): 500 (not 503
 * "retry shortly", which reads as Redis being away), one error line with the stack, and a
 * counter. Driven through the real app, with a store whose every read is a bug (a
 * TypeError, as a code path dereferencing undefined throws).
 */
function appWithBuggyStore() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger("k6-gate-api", "info", {
    write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  const buggy = new Proxy(
    {},
    {
      get(_target, property) {
        if (typeof property === "symbol" || property === "then") return undefined;
        return () => {
          throw new TypeError(`Cannot read properties of undefined (reading '${property}')`);
        };
      },
    },
  ) as RunStore;
  const nothing = {} as Redis;
  const app = createApp({
    config: apiConfigSchema.parse({ LOG_LEVEL: "info" }),
    redis: nothing,
    store: buggy,
    details: {} as never, // no request here reaches a run's inputs
    queue: { name: "k6-runs", metaValues: { version: "bullmq:6" } } as unknown as Queue,
    waiter: new RunWaiter(nothing, buggy),
    logger,
  });
  return { app, lines };
}

describe("an error k6-gate has no answer for", () => {
  it("answers 500 naming it a bug, logs it once with its stack, and counts it", async () => {
    const { app, lines } = appWithBuggyStore();
    const answer = await app.request("/api/runs?namespace=test&name=podinfo");
    expect(answer.status).toBe(500);
    expect(answer.headers.get("retry-after")).toBeNull();
    expect(await answer.text()).toBe(
      "k6-gate: internal error (a bug, logged by the API with its stack)",
    );
    const bugs = lines.filter((line) => line.msg === "bug: unhandled error");
    expect(bugs).toHaveLength(1);
    expect(bugs[0]).toMatchObject({ level: 50, path: "/api/runs" });
    expect((bugs[0]?.err as { stack?: string }).stack).toMatch(
      /^TypeError: Cannot read properties of undefined \(reading 'list'\)\n\s+at /,
    );

    const page = await app.request("/api/runs/some-run", { headers: { accept: "text/html" } });
    expect(page.status).toBe(500);
    expect(await page.text()).toContain("a bug, logged by the API with its stack");

    const metrics = await (await app.request("/metrics")).text();
    expect(metrics).toMatch(/^k6gate_api_bugs_total 2$/m);
  });
});
