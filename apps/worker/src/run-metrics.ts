import { collectDefaultMetrics, Counter, Histogram, Registry } from "prom-client";
import { outcomes, registerBuildInfo, type RunRecord } from "@k6-gate/shared";
import { isSaturated } from "./k6/saturation-verdict";

export interface RunMetrics {
  registry: Registry;
  /** One finished run, counted by the worker that recorded its verdict (and only that one). */
  observe(record: RunRecord): void;
}

interface Canary {
  namespace: string;
  name: string;
}

/** Outcomes an API writes (the decision that superseded a run, a cancel): counted there. */
const ENDED_BY_API = new Set<string>(["superseded", "cancelled"]);

/**
 * Run-level metrics live in the workers, not the API: only the worker whose finish
 * wrote the verdict counts a run, so summing over workers never double counts, however
 * many API replicas answer the webhook. Runs superseded or cancelled are counted by the
 * API that ended them (`k6gate_runs_stopped_total`). Queue wait and saturated runs are
 * labelled by namespace, for the first `maxNamespaces` this worker sees (the rest as
 * "other"), so a cluster with thousands of namespaces cannot blow up the series count.
 */
export function createRunMetrics({
  maxNamespaces = 50,
  maxCanaries = 200,
}: { maxNamespaces?: number; maxCanaries?: number } = {}): RunMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerBuildInfo(registry);
  const runs = new Counter({
    name: "k6gate_runs_total",
    help: "Runs judged, by canary (namespace, name), verdict and outcome (why, in one word); the METRICS_MAX_CANARIES most recently judged canaries.",
    labelNames: ["namespace", "name", "verdict", "outcome"],
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
    help: "Time from the webhook enqueuing a run to a worker starting the attempt that judged it, by namespace (the first METRICS_MAX_NAMESPACES; the rest as other).",
    labelNames: ["namespace"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [registry],
  });
  const saturated = new Counter({
    name: "k6gate_runs_saturated_total",
    help: "Runs whose k6 used nearly all the CPU it could for a significant share of the run (their latency figures are inflated), by namespace (the first METRICS_MAX_NAMESPACES; the rest as other).",
    labelNames: ["namespace"],
    registers: [registry],
  });
  const judgedOutcomes = outcomes.filter((outcome) => !ENDED_BY_API.has(outcome));
  const outcomeLabels = (canary: Canary) =>
    judgedOutcomes.map((outcome) => ({
      ...canary,
      verdict: outcome === "passed" ? "pass" : "fail",
      outcome,
    }));
  /**
   * `k6gate_runs_total` is per canary, bounded: one series per outcome for each of the
   * `maxCanaries` canaries this worker judged most recently; the one judged longest ago
   * loses its series past that (to rate(), a counter reset). A Map keeps them in order.
   */
  const canaries = new Map<string, Canary>();
  const trackCanary = (canary: Canary) => {
    const key = `${canary.namespace}/${canary.name}`;
    const known = canaries.delete(key);
    canaries.set(key, canary);
    if (known) return;
    // Every series of a canary exists from its first run, so rate() sees the first of each kind.
    for (const labels of outcomeLabels(canary)) runs.inc(labels, 0);
    for (const [oldKey, oldest] of canaries) {
      if (canaries.size <= maxCanaries) break;
      canaries.delete(oldKey);
      for (const labels of outcomeLabels(oldest)) runs.remove(labels);
    }
  };
  const namespaces = new Set<string>();
  const namespaceLabel = (namespace: string) => {
    if (namespaces.has(namespace)) return namespace;
    if (namespaces.size >= maxNamespaces) return "other";
    namespaces.add(namespace);
    return namespace;
  };

  return {
    registry,
    observe(record) {
      if (!record.verdict || !record.outcome) return;
      const canary = { namespace: record.namespace, name: record.name };
      trackCanary(canary);
      runs.inc({ ...canary, verdict: record.verdict, outcome: record.outcome });
      if (record.result)
        duration.observe({ verdict: record.verdict }, record.result.durationMs / 1000);
      if (isSaturated(record.result?.saturation))
        saturated.inc({ namespace: namespaceLabel(record.namespace) });
      if (record.startedAt !== null) {
        queueWait.observe(
          { namespace: namespaceLabel(record.namespace) },
          Math.max(0, record.startedAt - record.enqueuedAt) / 1000,
        );
      }
    },
  };
}
