import { readFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "@k6-gate/testkit/ports";
import { ROOT } from "@k6-gate/testkit/paths";
import { failingScript, passingScript, sleepingScript } from "@k6-gate/testkit/scripts";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";
import { parsePrometheusText, sampleValue, scrape, type Family } from "./prom-text";

let workerMetricsUrl: string;
const stack = useStack({
  workerEnv: async () => {
    const metricsPort = await freePort();
    workerMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    return { WORKER_METRICS_PORT: String(metricsPort) };
  },
});

const scrapeApi = () => scrape(`${stack.api.url}/metrics`);
const scrapeWorker = () => scrape(workerMetricsUrl);
const count = (families: Map<string, Family>, name: string, labels: Record<string, string> = {}) =>
  sampleValue(families, name, labels) ?? 0;

describe("/metrics", () => {
  it("parses as Prometheus text on the API and on the worker, with every k6-gate family", async () => {
    const [apiFamilies, workerFamilies] = await Promise.all([scrapeApi(), scrapeWorker()]);
    for (const [name, type] of [
      ["k6gate_webhook_requests_total", "counter"],
      ["k6gate_long_polls_in_flight", "gauge"],
      ["k6gate_queue_jobs", "gauge"],
      ["k6gate_canary_last_run_p95_seconds", "gauge"],
      ["k6gate_canary_last_run_error_rate", "gauge"],
      ["k6gate_redis_up", "gauge"],
      ["k6gate_workers", "gauge"],
      ["k6gate_oldest_running_run_seconds", "gauge"],
      ["k6gate_runs_stopped_total", "counter"],
    ]) {
      expect(apiFamilies.get(name ?? "")?.type, name).toBe(type);
      expect(apiFamilies.get(name ?? "")?.help, name).not.toBe("");
    }
    for (const [name, type] of [
      ["k6gate_runs_total", "counter"],
      ["k6gate_run_duration_seconds", "histogram"],
      ["k6gate_run_queue_wait_seconds", "histogram"],
      ["k6gate_runs_saturated_total", "counter"],
    ]) {
      expect(workerFamilies.get(name ?? "")?.type, name).toBe(type);
    }
    expect(count(apiFamilies, "k6gate_redis_up")).toBe(1);
    expect(count(apiFamilies, "k6gate_workers")).toBeGreaterThanOrEqual(1);
    // Run metrics come from workers only, so API replicas cannot double count them.
    expect(apiFamilies.has("k6gate_runs_total")).toBe(false);
  });

  it("the parser rejects what Prometheus would reject", () => {
    expect(() => parsePrometheusText("k6gate_x 1\n")).toThrow(/outside/);
    expect(() => parsePrometheusText('# TYPE a counter\na{b="c} 1\n')).toThrow(/labels/);
    expect(() => parsePrometheusText("# TYPE a gauge\na one\n")).toThrow(/value/);
    expect(() =>
      parsePrometheusText(
        '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n',
      ),
    ).toThrow(/cumulative/);
  });

  it("counts webhook answers by status and runs by verdict and outcome, once each", async () => {
    const [apiBefore, workerBefore] = await Promise.all([scrapeApi(), scrapeWorker()]);

    const pass = await postWebhook(
      stack.api.url,
      payloadOf({
        name: "metered",
        checksum: "rev-pass",
        metadata: { script: passingScript(stack.target.port) },
      }),
    );
    const fail = await postWebhook(
      stack.api.url,
      payloadOf({
        name: "metered",
        checksum: "rev-fail",
        metadata: { script: failingScript(stack.target.port) },
      }),
    );
    const invalid = await postWebhook(stack.api.url, { name: "metered" });
    expect([pass.status, fail.status, invalid.status]).toEqual([200, 422, 400]);

    const apiAfter = await scrapeApi();
    for (const status of ["200", "422", "400"]) {
      expect(count(apiAfter, "k6gate_webhook_requests_total", { status }), status).toBe(
        count(apiBefore, "k6gate_webhook_requests_total", { status }) + 1,
      );
    }
    // The worker counts a run when it records the verdict, just before the webhook answers.
    const workerAfter = await waitFor("the worker to count both runs", async () => {
      const families = await scrapeWorker();
      const total =
        count(families, "k6gate_run_duration_seconds_count", { verdict: "pass" }) +
        count(families, "k6gate_run_duration_seconds_count", { verdict: "fail" });
      const before =
        count(workerBefore, "k6gate_run_duration_seconds_count", { verdict: "pass" }) +
        count(workerBefore, "k6gate_run_duration_seconds_count", { verdict: "fail" });
      return total === before + 2 ? families : undefined;
    });
    // Per canary (namespace, name): which canary keeps failing, bounded (200 canaries).
    const runs = (families: Map<string, Family>, verdict: string, outcome: string) =>
      count(families, "k6gate_runs_total", {
        namespace: "test",
        name: "metered",
        verdict,
        outcome,
      });
    expect(runs(workerAfter, "pass", "passed")).toBe(runs(workerBefore, "pass", "passed") + 1);
    expect(runs(workerAfter, "fail", "thresholds_failed")).toBe(
      runs(workerBefore, "fail", "thresholds_failed") + 1,
    );
    // Queue wait by namespace (the canary's; bounded: 50 namespaces).
    const waits = (families: Map<string, Family>) =>
      count(families, "k6gate_run_queue_wait_seconds_count", { namespace: "test" });
    expect(waits(workerAfter)).toBe(waits(workerBefore) + 2);
    expect(
      count(workerAfter, "k6gate_run_duration_seconds_sum", { verdict: "pass" }),
    ).toBeGreaterThan(count(workerBefore, "k6gate_run_duration_seconds_sum", { verdict: "pass" }));
  });

  it("reports queue depth by state and the last run's p95 and error rate per canary, by checksum", async () => {
    const families = await scrapeApi();
    expect(count(families, "k6gate_queue_jobs", { state: "completed" })).toBeGreaterThanOrEqual(2);
    expect(sampleValue(families, "k6gate_queue_jobs", { state: "waiting" })).toBe(0);
    const labels = { namespace: "test", name: "metered", checksum: "rev-fail" };
    expect(count(families, "k6gate_canary_last_run_error_rate", labels)).toBe(1);
    expect(count(families, "k6gate_canary_last_run_p95_seconds", labels)).toBeGreaterThan(0);
    // Only the last run's revision is reported: old revisions drop out of the gauge.
    expect(
      sampleValue(families, "k6gate_canary_last_run_error_rate", {
        name: "metered",
        checksum: "rev-pass",
      }),
    ).toBeUndefined();
  });

  it("reports the last run's p95 against its baseline: earlier revisions' median and the change", async () => {
    for (const checksum of ["base-1", "base-2"]) {
      const response = await postWebhook(
        stack.api.url,
        payloadOf({
          name: "compared",
          checksum,
          metadata: { script: passingScript(stack.target.port) },
        }),
      );
      expect(response.status, response.text).toBe(200);
    }
    const families = await scrapeApi();
    const labels = { namespace: "test", name: "compared", checksum: "base-2" };
    const p95 = count(families, "k6gate_canary_last_run_p95_seconds", labels);
    const baseline = count(families, "k6gate_canary_baseline_p95_seconds", labels);
    expect(baseline).toBeGreaterThan(0);
    expect(count(families, "k6gate_canary_last_run_p95_change_ratio", labels)).toBeCloseTo(
      (p95 - baseline) / baseline,
      6,
    );
  });

  it("shows long-polls in flight while a webhook waits on a run", async () => {
    const pending = postWebhook(
      stack.api.url,
      payloadOf({
        name: "waiting",
        checksum: "rev-wait",
        metadata: { script: sleepingScript(stack.target.port, 3), wait_timeout: "30s" },
      }),
    );
    await waitFor(
      "a long-poll in flight",
      async () => count(await scrapeApi(), "k6gate_long_polls_in_flight") === 1,
    );
    expect((await pending).status).toBe(200);
    expect(count(await scrapeApi(), "k6gate_long_polls_in_flight")).toBe(0);
  });

  it("the Grafana dashboard only queries metrics that exist", async () => {
    const dashboard = readFileSync(join(ROOT, "docs", "grafana", "k6-gate.json"), "utf8");
    const queried = new Set(dashboard.match(/k6gate_[a-z0-9_]+/g));
    const [apiFamilies, workerFamilies] = await Promise.all([scrapeApi(), scrapeWorker()]);
    const exposed = new Set(
      [...apiFamilies.values(), ...workerFamilies.values()].flatMap((family) =>
        family.samples.map((sample) => sample.name),
      ),
    );
    expect(queried.size).toBeGreaterThanOrEqual(8);
    for (const name of queried) expect(exposed, name).toContain(name);
  });

  it("a worker whose metrics port is taken still runs checks", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, resolve));
    const { port } = blocker.address() as AddressInfo;
    const second = await stack.gate.startWorker({ WORKER_METRICS_PORT: String(port) });
    try {
      await second.waitForOutput(/worker metrics server not started/);
      await stack.worker.stop();
      const response = await postWebhook(
        stack.api.url,
        payloadOf({
          name: "metered",
          checksum: "rev-second",
          metadata: { script: passingScript(stack.target.port) },
        }),
      );
      expect(response.status).toBe(200);
    } finally {
      await second.stop();
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
