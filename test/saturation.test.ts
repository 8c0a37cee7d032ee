import { describe, expect, it } from "vitest";
import type { RunResult, Saturation } from "@k6-gate/shared";
import { k6Wrapper } from "@k6-gate/testkit/k6-wrapper";
import { freePort } from "@k6-gate/testkit/ports";
import { runIdIn } from "@k6-gate/testkit/runs";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

/**
 * "Trust the load": a worker limited to one core (`taskset -c 0`) runs the real k6 under
 * a wrapper (so k6 is a grandchild of the worker, as under setpriv it is a child). A
 * script that keeps k6's one core busy gets the saturation warning, one that sleeps does
 * not, and `fail_on_saturation` turns the busy one's pass into a fail.
 */

const k6 = k6Wrapper();
let metricsUrl: string;
const stack = useStack({
  env: async () => {
    const metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    return { K6_BIN: k6.bin, WORKER_METRICS_PORT: String(metricsPort) };
  },
  workerEnv: { MAX_RUN_DURATION: "60s" },
  workerPrefix: ["taskset", "-c", "0"],
});

/** One VU spinning JavaScript for 5 s: k6 needs all of its core. */
const cpuBoundScript = `
import { check } from 'k6';
export const options = { vus: 1, iterations: 1, thresholds: { checks: ['rate==1'] } };
export default function () {
  const end = Date.now() + 5000;
  let spins = 0;
  while (Date.now() < end) spins++;
  check(spins, { 'spun': (n) => n > 0 });
}
`;

/** One VU asking the local target twice a second for 5 s: k6 mostly waits. */
const sleepBoundScript = (port: number) => `
import http from 'k6/http';
import { check, sleep } from 'k6';
export const options = { vus: 1, iterations: 1, thresholds: { checks: ['rate==1'] } };
export default function () {
  for (let i = 0; i < 10; i++) {
    check(http.get('http://127.0.0.1:${port}/ok'), { 'status is 200': (r) => r.status === 200 });
    sleep(0.5);
  }
}
`;

let checksum = 0;
const call = (metadata: Record<string, string>) =>
  postWebhook(stack.api.url, payloadOf({ checksum: `saturation-${++checksum}`, metadata }));

/** The run's JSON (GET /api/runs/<id>) for the run a verdict names. */
const runJsonOf = async (verdict: string) => {
  const response = await fetch(`${stack.api.url}/api/runs/${runIdIn(verdict)}`);
  return (await response.json()) as Pick<RunResult, "verdict" | "outcome" | "warnings"> & {
    saturation: Saturation | null;
  };
};

const WARNING =
  /warning: load generator saturated for (\d+)% of the run: latency figures are inflated/;

describe("load generator saturation (real k6, worker on one core)", () => {
  it("warns when k6 keeps its one core busy, with the figures on the run page", async () => {
    const response = await call({ script: cpuBoundScript });
    expect(response.status, response.text).toBe(200);
    expect(response.text).toContain("PASS test/podinfo (passed)");
    const percent = Number(WARNING.exec(response.text)?.[1]);
    const result = await runJsonOf(response.text);
    expect(result.saturation).toMatchObject({ cpus: 1 });
    expect(result.saturation?.share).toBeGreaterThanOrEqual(0.5);
    expect(result.saturation?.samples).toBeGreaterThanOrEqual(12);
    expect(result.saturation?.peakCpus).toBeGreaterThan(0.5);
    expect(percent).toBe(Math.round((result.saturation?.share ?? 0) * 100));
    expect(result.warnings).toContain(
      `load generator saturated for ${percent}% of the run: latency figures are inflated`,
    );

    const page = await (await fetch(`${stack.api.url}/runs/${runIdIn(response.text)}`)).text();
    const cpuFacts = /<dd id="k6-cpu">([^<]*)<\/dd>/.exec(page)?.[1];
    expect(cpuFacts).toBe(
      `peak ${result.saturation?.peakCpus.toFixed(2)} of 1 CPU; saturated in ${percent}% of samples`,
    );
    expect(page).toContain(`load generator saturated for ${percent}% of the run`);
  });

  it("does not warn when k6 mostly sleeps", async () => {
    const response = await call({ script: sleepBoundScript(stack.target.port) });
    expect(response.status, response.text).toBe(200);
    expect(response.text).not.toContain("load generator saturated");
    const result = await runJsonOf(response.text);
    expect(result.saturation?.share).toBeLessThan(0.25);
    expect(result.saturation?.samples).toBeGreaterThanOrEqual(12);
    expect(result.warnings ?? []).toEqual([]);
  });

  it('fails the busy script with fail_on_saturation: "true" (outcome saturated)', async () => {
    const response = await call({ script: cpuBoundScript, fail_on_saturation: "true" });
    expect(response.status, response.text).toBe(422);
    expect(response.text).toContain("FAIL test/podinfo (saturated)");
    expect(response.text).toMatch(
      /k6 used at least 90% of its 1 CPU in \d+% of samples \(fail_on_saturation\)/,
    );
    expect(response.text).toMatch(WARNING);
    const result = await runJsonOf(response.text);
    expect(result).toMatchObject({ verdict: "fail", outcome: "saturated" });
  });

  it("counts the saturated runs in the worker's metrics", async () => {
    await waitFor("two saturated runs counted", async () => {
      const text = await (await fetch(metricsUrl)).text();
      return text.includes('k6gate_runs_saturated_total{namespace="test"} 2');
    });
  });
});
