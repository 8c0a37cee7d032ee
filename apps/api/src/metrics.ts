import type { MiddlewareHandler } from "hono";
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import { registerBuildInfo, type RunSummary } from "@k6-gate/shared";
import { METRICS_MAX_CANARIES } from "./config";
import type { AppDeps, AppEnv } from "./deps";
import { readQueueJobs } from "./queue-jobs";

export interface ApiMetrics {
  /** Counts every webhook answer by HTTP status, whatever produced it (401, 413, 503...). */
  countWebhook: MiddlewareHandler<AppEnv>;
  /** Runs this process ended before k6 judged them: superseded or cancelled. */
  countStopped(outcome: StoppedOutcome, count?: number): void;
  /** A webhook call refused because Redis is full (out of memory under noeviction). */
  countRedisFull(): void;
  /** A request that ended in an error k6-gate has no answer for: a bug. */
  countBug(): void;
  /** The Prometheus text, with Redis-backed gauges read now. */
  scrape(): Promise<{ text: string; contentType: string }>;
}

export type StoppedOutcome = "superseded" | "cancelled";

/**
 * The API's own metrics. Queue depth and per-canary gauges are read from Redis on each
 * scrape, so every replica reports the same values (chart them with max, not sum); runs
 * by verdict and their durations come from the workers (see the worker's run-metrics).
 */
export function createApiMetrics({ store, queue, waiter, logger }: AppDeps): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerBuildInfo(registry);
  const webhookRequests = new Counter({
    name: "k6gate_webhook_requests_total",
    help: "Webhook calls (POST /launch-test) answered, by HTTP status.",
    labelNames: ["status"],
    registers: [registry],
  });
  // Ended by an API (the DECIDE that superseded them, a cancel), so counted here, once, by
  // the replica that ended them; every other verdict is counted by a worker.
  const runsStopped = new Counter({
    name: "k6gate_runs_stopped_total",
    help: "Runs ended before k6 judged them, by outcome: superseded by a new revision, cancelled by an operator.",
    labelNames: ["outcome"],
    registers: [registry],
  });
  for (const outcome of ["superseded", "cancelled"] as const) runsStopped.inc({ outcome }, 0);
  const redisFull = new Counter({
    name: "k6gate_redis_full_total",
    help: "Webhook calls answered 503 because Redis refused a write: out of memory (maxmemory under noeviction).",
    registers: [registry],
  });
  const bugs = new Counter({
    name: "k6gate_api_bugs_total",
    help: 'Requests answered 500 because of an error k6-gate has no answer for (a bug): the log line "bug: unhandled error" has its stack.',
    registers: [registry],
  });
  new Gauge({
    name: "k6gate_long_polls_in_flight",
    help: "Webhook calls this API process is holding open while their run goes on.",
    registers: [registry],
    collect() {
      this.set(waiter.inFlight);
    },
  });
  const redisUp = new Gauge({
    name: "k6gate_redis_up",
    help: "1 when this scrape could read Redis; the gauges below are absent when 0.",
    registers: [registry],
  });
  const queueJobs = new Gauge({
    name: "k6gate_queue_jobs",
    help: "Jobs in the k6-runs queue by BullMQ state.",
    labelNames: ["state"],
    registers: [registry],
  });
  const canaries = new Gauge({
    name: "k6gate_canaries",
    help: "Canaries with run history; per-canary series cover the METRICS_MAX_CANARIES most recently run.",
    registers: [registry],
  });
  // For alerts (k8s/components/monitoring/alerts.yaml): no worker alive, a run that never ends.
  const workers = new Gauge({
    name: "k6gate_workers",
    help: "Workers connected to the k6-runs queue; at 0 no run can start.",
    registers: [registry],
  });
  const oldestRunning = new Gauge({
    name: "k6gate_oldest_running_run_seconds",
    help: "How long the longest-running run has run so far (0 when none runs); past MAX_RUN_DURATION plus grace its worker is stuck.",
    registers: [registry],
  });
  const canaryLabels = ["namespace", "name", "checksum"] as const;
  const lastP95 = new Gauge({
    name: "k6gate_canary_last_run_p95_seconds",
    help: "http_req_duration p(95) of the canary's last finished run, labelled by its revision's checksum.",
    labelNames: canaryLabels,
    registers: [registry],
  });
  const lastErrorRate = new Gauge({
    name: "k6gate_canary_last_run_error_rate",
    help: "http_req_failed rate (0-1) of the canary's last finished run, labelled by its revision's checksum.",
    labelNames: canaryLabels,
    registers: [registry],
  });
  // Versions over time (decision 35): one series per canary at a time, labelled by the
  // revision it measured, so a graph shows each revision as its own segment.
  const baselineP95 = new Gauge({
    name: "k6gate_canary_baseline_p95_seconds",
    help: "Median http_req_duration p(95) of the passed revisions the canary's last finished run was compared with.",
    labelNames: canaryLabels,
    registers: [registry],
  });
  const p95Change = new Gauge({
    name: "k6gate_canary_last_run_p95_change_ratio",
    help: "Change of the last finished run's http_req_duration p(95) against its baseline (0.18 = 18% slower).",
    labelNames: canaryLabels,
    registers: [registry],
  });
  const lastRunGauges = [lastP95, lastErrorRate, baselineP95, p95Change];

  async function readRedis(): Promise<void> {
    const [counts, canaryCount, lastRuns, workerCount, running] = await Promise.all([
      readQueueJobs(queue),
      store.canaryCount(),
      store
        .listCanaries(METRICS_MAX_CANARIES)
        // The newest runs may still be in flight; the last verdict is among the next few.
        .then((canaries) => store.summariesOfCanaries(canaries, 5))
        .then((recent) => recent.map((runs) => runs.find((run) => run.result !== null))),
      queue.getWorkersCount(),
      store.runningRuns(),
    ]);
    canaries.set(canaryCount);
    workers.set(workerCount);
    const now = Date.now();
    const longest = Math.max(0, ...running.map((run) => now - (run.startedAt ?? now)));
    oldestRunning.set(longest / 1000);
    queueJobs.reset();
    for (const [state, count] of Object.entries(counts)) queueJobs.set({ state }, count);
    for (const gauge of lastRunGauges) gauge.reset();
    for (const run of lastRuns.filter((r): r is RunSummary => r !== undefined)) {
      const labels = { namespace: run.namespace, name: run.name, checksum: run.checksum };
      const metrics = run.result?.metrics;
      if (metrics?.httpReqDurationP95 != null) {
        lastP95.set(labels, metrics.httpReqDurationP95 / 1000);
      }
      if (metrics?.httpReqFailedRate != null) lastErrorRate.set(labels, metrics.httpReqFailedRate);
      const p95 = run.result?.comparison?.entries.find((e) => e.key === "http_req_duration:p(95)");
      if (p95?.baseline != null) {
        baselineP95.set(labels, p95.baseline / 1000);
        if (p95.observed !== null && p95.baseline > 0)
          p95Change.set(labels, (p95.observed - p95.baseline) / p95.baseline);
      }
    }
  }

  return {
    countStopped: (outcome, count = 1) => runsStopped.inc({ outcome }, count),
    countRedisFull: () => redisFull.inc(),
    countBug: () => bugs.inc(),
    countWebhook: async (c, next) => {
      await next();
      webhookRequests.inc({ status: String(c.res.status) });
    },
    async scrape() {
      try {
        await readRedis();
        redisUp.set(1);
      } catch (error) {
        // Still answer: the webhook counters matter most exactly when Redis is away.
        logger.warn({ err: error }, "metrics: Redis not readable");
        redisUp.set(0);
        for (const gauge of [canaries, queueJobs, workers, oldestRunning, ...lastRunGauges])
          gauge.reset();
      }
      return { text: await registry.metrics(), contentType: registry.contentType };
    },
  };
}
