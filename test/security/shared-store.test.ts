// Issue 28, part 2: one caller cannot fill the Redis every team shares. Quotas per owner
// stop a namespace flooding distinct canaries and scripts while another namespace's check
// still passes; a full Redis is reported as full. Real API and worker processes, real k6
// (only 127.0.0.1), real Redis.
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { loadApiConfig } from "../../apps/api/src/config";
import { loadWorkerConfig } from "../../apps/worker/src/config";
import type { ApiProcess } from "@k6-gate/testkit/k6gate";
import { runsOf } from "@k6-gate/testkit/runs";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

const stack = useStack({ api: false, workers: 0 });

/** A passing check; `variant` makes a distinct script of the same test. */
const script = (variant: number) => `
import http from 'k6/http';
import { check } from 'k6';
export const options = { vus: 1, iterations: 1, thresholds: { checks: ['rate==1'] } };
// variant ${variant}
export default function () {
  check(http.get('http://127.0.0.1:${stack.target.port}/ok'), { ok: (r) => r.status === 200 });
}
`;

const submit = (api: ApiProcess, namespace: string, name: string, variant: number) =>
  postWebhook(
    api.url,
    payloadOf({
      namespace,
      name,
      checksum: `rev-${variant}`,
      metadata: { script: script(variant), wait_for_results: "false" },
    }),
  );

describe("quotas on the shared store", () => {
  it("stops a namespace flooding canaries and scripts at its quotas, keeps its history, and another namespace's check still passes", async () => {
    const gate = stack.testGate({
      MAX_CANARIES_PER_OWNER: "3",
      MAX_SCRIPTS_PER_OWNER: "4",
    });
    const api = await gate.startApi();
    await gate.startWorker();

    const canaries = [];
    for (let i = 0; i < 5; i++) canaries.push(await submit(api, "flood", `canary-${i}`, i));
    expect(canaries.map((answer) => answer.status)).toEqual([202, 202, 202, 429, 429]);
    const refused = canaries[3]!;
    expect(refused.text).toBe(
      "quota reached: namespace flood has runs of 3 canaries (MAX_CANARIES_PER_OWNER 3); no run of another canary is recorded: it frees as the owner's runs age out of the history (HISTORY_MAX_AGE), or an operator raises it",
    );
    expect(refused.headers.get("retry-after")).toBe("60");

    // Its own canaries go on, with new scripts up to that quota.
    const scripts = [];
    for (let i = 10; i < 12; i++) scripts.push(await submit(api, "flood", "canary-0", i));
    expect(scripts.map((answer) => answer.status)).toEqual([202, 429]);
    expect(scripts[1]?.text).toContain(
      "quota reached: namespace flood ran 4 distinct scripts (MAX_SCRIPTS_PER_OWNER 4)",
    );
    // Nothing it kept was dropped to make room.
    expect(await runsOf(api.url, "canary-0", "flood")).toHaveLength(2);
    for (let i = 1; i < 3; i++)
      expect(await runsOf(api.url, `canary-${i}`, "flood")).toHaveLength(1);

    const other = await postWebhook(
      api.url,
      payloadOf({ namespace: "team-b", name: "podinfo", metadata: { script: script(99) } }),
    );
    expect(other.status).toBe(200);
    expect(other.text).toContain("k6-gate: PASS team-b/podinfo");
    await api.waitForOutput(/"owner":"namespace:flood","quota":"canaries"[^\n]*quota reached/);
  });
});

describe("the quotas' defaults", () => {
  it("keep one owner to about a quarter of the default 384 MiB Redis at worst (decision 44)", () => {
    const api = loadApiConfig({});
    const worker = loadWorkerConfig({});
    expect(api.MAX_CANARIES_PER_OWNER).toBe(30);
    expect(api.MAX_SCRIPTS_PER_OWNER).toBe(100);
    expect(worker.MAX_OUTPUT_BYTES_PER_OWNER).toBe(32 * 1024 * 1024);
    expect(loadApiConfig({ MAX_CANARIES_PER_OWNER: "0" }).MAX_CANARIES_PER_OWNER).toBe(0);
    expect(() => loadApiConfig({ MAX_SCRIPTS_PER_OWNER: "-1" })).toThrow(/MAX_SCRIPTS_PER_OWNER/);
  });
});

describe("a full Redis", () => {
  it("is answered as full (503 + Retry-After), with its own log line and metric, not as unreachable", async () => {
    const gate = stack.testGate();
    const api = await gate.startApi();
    const admin = new Redis(stack.redis.adminUrl);
    try {
      // Out of memory under noeviction: every write is refused, reads still answer.
      await admin.config("SET", "maxmemory", "1");
      const answer = await submit(api, "team-a", "podinfo", 1);
      expect(answer.status).toBe(503);
      expect(answer.headers.get("retry-after")).toBe("30");
      expect(answer.text).toContain(
        "k6-gate: Redis is full (out of memory under maxmemory-policy noeviction)",
      );
      expect(answer.text).not.toContain("unreachable");
      await api.waitForOutput(
        /"namespace":"team-a"[^\n]*"redis full: a webhook call could not be recorded"/,
      );
      const metrics = await (await fetch(`${api.url}/metrics`)).text();
      expect(metrics).toMatch(/^k6gate_redis_full_total 1$/m);
    } finally {
      await admin.config("SET", "maxmemory", "0");
      admin.disconnect();
    }
    expect((await submit(api, "team-a", "podinfo", 1)).status).toBe(202);
  });
});
