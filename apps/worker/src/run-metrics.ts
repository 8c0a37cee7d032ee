import { collectDefaultMetrics, Counter, Histogram, Registry } from "prom-client";
import { outcomes, registerBuildInfo, type RunRecord } from "@k6-gate/shared";

export interface RunMetrics {
  registry: Registry;
  /** One finished run, counted by the worker that recorded its verdict (and only that one). */
  observe(record: RunRecord): void;
}

/**
 * Run-level metrics live in the workers, not the API: only the worker whose finish
 * wrote the verdict counts a run, so summing over workers never double counts, however
 * many API replicas answer the webhook.
 */
export function createRunMetrics(): RunMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerBuildInfo(registry);
  const runs = new Counter({
    name: "k6gate_runs_total",
    help: "Runs judged, by verdict and outcome (why, in one word).",
    labelNames: ["verdict", "outcome"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "k6gate_run_duration_seconds",
    help: "How long k6 ran, by verdict.",
    labelNames: ["verdict"],
    buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600],
    registers: [registry],
  });
  const queueWait = new Histogram({
    name: "k6gate_run_queue_wait_seconds",
    help: "Time from the webhook enqueuing a run to a worker starting the attempt that judged it.",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [registry],
  });
  // Every series exists from the start, so rate() sees the first run of each kind.
  for (const outcome of outcomes) {
    runs.inc({ verdict: outcome === "passed" ? "pass" : "fail", outcome }, 0);
  }

  return {
    registry,
    observe(record) {
      if (!record.verdict || !record.outcome) return;
      runs.inc({ verdict: record.verdict, outcome: record.outcome });
      if (record.result)
        duration.observe({ verdict: record.verdict }, record.result.durationMs / 1000);
      if (record.startedAt !== null) {
        queueWait.observe(Math.max(0, record.startedAt - record.enqueuedAt) / 1000);
      }
    },
  };
}
