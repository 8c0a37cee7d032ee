import { describe, expect, it } from "vitest";
import { k6Wrapper } from "@k6-gate/testkit/k6-wrapper";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

/**
 * WORKER_CONCURRENCY=auto, the default: a worker runs 6 light k6 per CPU it may use (its
 * affinity here: `taskset -c 0`), says so at start, and judges each run by what all of them
 * used together, so a light run next to a busy one is not passed off as measured on a
 * free load generator. On the all-in-one process, as small installs run it.
 */
const stack = useStack({ api: false, workers: 0 });

/** The start-up line's fields (JSON logs: one object per line). */
function startLine(output: string): Record<string, unknown> {
  const line = output.split("\n").find((text) => text.includes('"msg":"worker started"'));
  return JSON.parse(line ?? "{}") as Record<string, unknown>;
}

/** One VU spinning JavaScript for 5 s: k6 needs all of the core. */
const cpuBoundScript = `
export const options = { vus: 1, iterations: 1 };
export default function () {
  const end = Date.now() + 5000;
  while (Date.now() < end);
}
`;

/** One GET, then a sleep: k6 mostly waits. */
const lightScript = (port: number, seconds: number) => `
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 1, iterations: 1, thresholds: { http_req_failed: ['rate<0.01'] } };
export default function () { http.get('http://127.0.0.1:${port}/ok'); sleep(${seconds}); }
`;

describe("WORKER_CONCURRENCY=auto (the default)", () => {
  it("runs 6 k6 per CPU it may use, says why at start, and runs a burst at once", async () => {
    const k6 = k6Wrapper();
    // Unset (empty counts as unset): the default.
    const gate = stack.testGate({ K6_BIN: k6.bin, WORKER_CONCURRENCY: "" });
    const all = await gate.startAllInOne({}, { prefix: ["taskset", "-c", "0"] });
    const started = startLine(all.output());
    expect(started).toMatchObject({
      concurrencyFrom: "auto",
      cpusFrom: "cgroup quota or affinity",
      runsPerCore: 6,
    });
    const cpus = Number(started.cpus);
    expect(cpus).toBeGreaterThan(0);
    expect(cpus).toBeLessThanOrEqual(1);
    expect(started.concurrency).toBe(Math.max(1, Math.floor(cpus * 6)));

    const burst = Array.from({ length: 4 }, (_, i) =>
      postWebhook(
        all.url,
        payloadOf({
          name: `burst-${i}`,
          metadata: { script: lightScript(stack.target.port, 2), wait_timeout: "60s" },
        }),
      ),
    );
    const responses = await Promise.all(burst);
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200]);
    expect(k6.maxConcurrent()).toBe(Math.min(4, Number(started.concurrency)));
  });

  it("warns on a light run whose neighbour kept the worker's one core busy", async () => {
    const gate = stack.testGate({ WORKER_CONCURRENCY: "" });
    const all = await gate.startAllInOne({}, { prefix: ["taskset", "-c", "0"] });
    const call = (name: string, script: string) =>
      postWebhook(all.url, payloadOf({ name, metadata: { script, wait_timeout: "60s" } }));
    const [busy, light] = await Promise.all([
      call("busy", cpuBoundScript),
      call("light", lightScript(stack.target.port, 4)),
    ]);
    expect(busy.status, busy.text).toBe(200);
    expect(light.status, light.text).toBe(200);
    expect(light.text).toMatch(/load generator saturated for \d+% of the run/);
  });
});
