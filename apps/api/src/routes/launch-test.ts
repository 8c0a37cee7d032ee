import type { Context } from "hono";
import {
  describeIssues,
  enqueueRun,
  formatDuration,
  runSpecOf,
  webhookPayloadSchema,
  type RunK6Progress,
  type RunRecord,
  type WebhookPayload,
} from "@k6-gate/shared";
import { LONG_POLL_MAX_MS } from "../config";
import type { AppDeps, AppEnv } from "../deps";
import type { ApiMetrics } from "../metrics";
import {
  acceptedResponse,
  afterDelivery,
  clientGone,
  dashboardLink,
  problem,
  runJson,
  supersededResponse,
  verdictResponse,
} from "../respond";
import { callerOf, ownerOfCall } from "../caller";
import { quotaMessage, QUOTA_RETRY_AFTER } from "../quota-message";
import { isRedisFull } from "../redis-errors";
import {
  backlogRetryAfter,
  queueEstimate,
  retryAfterSeconds,
  type QueueEstimate,
} from "../retry-after";
import { k6RunProgress, runProgress } from "../run-progress";
import { removeQueuedJobs } from "../stopped-runs";

/** Seconds before a call refused by a full Redis is retried: memory is freed by people. */
const REDIS_FULL_RETRY_AFTER = 30;

/**
 * POST /launch-test: Flagger's webhook. Applies the four-step rule (docs/architecture.md, section 3) atomically in
 * Redis, then long-polls the run for its verdict.
 */
export function launchTest(
  deps: AppDeps,
  metrics: Pick<ApiMetrics, "countStopped" | "countRedisFull">,
) {
  const { config, store, queue, waiter, logger } = deps;

  /** Runs after the response was written: a Redis error then is logged, never thrown. */
  const markDelivered = (runId: string) => () => {
    store
      .markDelivered(runId)
      .catch((error: unknown) => logger.warn({ runId, err: error }, "delivery not recorded"));
  };

  return async (c: Context<AppEnv>): Promise<Response> => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return problem(c, 400, "invalid payload", ["body: not valid JSON"]);
    }
    const parsed = webhookPayloadSchema.safeParse(body);
    if (!parsed.success) return problem(c, 400, "invalid payload", describeIssues(parsed.error));
    const payload = parsed.data;
    c.set("log", { namespace: payload.namespace, name: payload.name });
    const rejection = checkLimits(payload);
    if (rejection) return problem(c, 400, "invalid payload", [rejection]);
    if (config.ALLOWED_NAMESPACES && !config.ALLOWED_NAMESPACES.test(payload.namespace)) {
      return problem(c, 403, `namespace ${payload.namespace} may not use this webhook`);
    }
    // A token bound to namespaces (WEBHOOK_TOKENS_FILE): before any Redis access.
    const caller = c.get("webhookCaller");
    if (caller && !caller.allows(payload.namespace)) {
      const bound = caller.namespaces.join(", ");
      const message = `namespace ${payload.namespace} may not use this webhook with token ${caller.name} (bound to ${bound})`;
      return problem(c, 403, message);
    }
    // Counted before any await, so a burst cannot slip past the limit.
    const lease = waiter.lease(config.MAX_LONG_POLLS);
    if (!lease) return problem(c, 429, "too many calls waiting on this API instance", [], 5);
    try {
      return await decideAndWait(c, payload);
    } catch (error) {
      if (!isRedisFull(error)) throw error;
      // Full, not unreachable: it stays so until an operator frees or adds memory.
      metrics.countRedisFull();
      logger.error(
        { err: error, namespace: payload.namespace, name: payload.name },
        "redis full: a webhook call could not be recorded",
      );
      return problem(
        c,
        503,
        "k6-gate: Redis is full (out of memory under maxmemory-policy noeviction); no run can be recorded until an operator frees memory or raises maxmemory",
        [],
        REDIS_FULL_RETRY_AFTER,
      );
    } finally {
      lease.release();
    }
  };

  async function decideAndWait(c: Context<AppEnv>, payload: WebhookPayload): Promise<Response> {
    const job = runSpecOf(payload);
    const caller = callerOf(c);
    const owner = ownerOfCall(c, payload.namespace);
    const decision = await store.decide({
      job,
      minFailureDelayMs: payload.metadata.minFailureDelayMs,
      maxQueueDepth: config.MAX_QUEUE_DEPTH,
      now: Date.now(),
      supersede: payload.metadata.supersede,
      caller,
      owner,
      quotas: {
        maxCanaries: config.MAX_CANARIES_PER_OWNER,
        maxScripts: config.MAX_SCRIPTS_PER_OWNER,
      },
      // A call that will wait marks its run waited on: no new revision supersedes it then.
      waiter: payload.metadata.waitForResults ? waiter.waitLease : undefined,
    });
    const log = logger.child({
      namespace: payload.namespace,
      name: payload.name,
      runKey: job.runKey,
      decision: decision.action,
    });
    c.set("log", {
      ...c.get("log"),
      decision: decision.action,
      runId: "run" in decision ? decision.run.id : undefined,
    });

    if (decision.action === "quota") {
      log.warn(
        { owner, quota: decision.quota, used: decision.used, limit: decision.limit },
        "quota reached",
      );
      return problem(c, 429, quotaMessage(decision, owner), [], QUOTA_RETRY_AFTER);
    }

    if (decision.action === "busy") {
      const [queued, retryAfter] = await Promise.all([
        store.queuedCount(),
        backlogRetryAfter(store),
      ]);
      log.warn({ queued, retryAfter }, "backlog full");
      return problem(
        c,
        429,
        `backlog full: ${queued} runs waiting (MAX_QUEUE_DEPTH ${config.MAX_QUEUE_DEPTH})`,
        [],
        retryAfter,
      );
    }

    const { run } = decision;
    const { warnings } = payload.metadata;
    if (warnings.length) log.warn({ runId: run.id, warnings }, "metadata not understood");
    if (decision.action === "created" && decision.superseded.length) {
      // Ended in the same script that created this run; their callers have their verdict.
      const superseded = decision.superseded;
      metrics.countStopped("superseded", superseded.length);
      log.info(
        { runId: run.id, superseded, tokenName: caller.tokenName, address: caller.address },
        "runs of older revisions superseded",
      );
      const queued = superseded.filter((ended) => ended.was === "queued").map((ended) => ended.id);
      await removeQueuedJobs(queue, queued, log);
      // No worker judges a run ended while queued, so its canary's history is kept to the
      // retention limits here (a flood of new checksums would otherwise pile up).
      store
        .prune(run.namespace, run.name)
        .catch((error: unknown) => log.warn({ err: error }, "history not pruned"));
    }

    if (decision.action === "deliver") {
      afterDelivery(c, markDelivered(run.id));
      return verdictResponse(c, run, config.PUBLIC_URL, { warnings });
    }
    if (decision.action === "recent_failure") {
      const waitMs = (run.finishedAt ?? 0) + payload.metadata.minFailureDelayMs - Date.now();
      return verdictResponse(c, run, config.PUBLIC_URL, {
        warnings,
        note: `(previous run failed; no new run for another ${formatDuration(Math.max(0, waitMs))} per min_failure_delay)`,
      });
    }

    // Attaching to a queued run adds its job again: a no-op unless its creator died first.
    if (run.status === "queued") await enqueueRun(queue, { ...job, runId: run.id }, run.priority);
    // Its owner's runs may have moved since DECIDE placed it: BullMQ gets its place now.
    if (decision.action === "created") await store.place(run.id);

    if (!payload.metadata.waitForResults) {
      afterDelivery(c, markDelivered(run.id));
      return acceptedResponse(c, run, config.PUBLIC_URL);
    }

    // No wait_timeout: hold until the verdict, as flagger-k6-webhook does; Flagger's own
    // timeout decides, and a retry (or the next interval) reattaches to the same run.
    const waitMs = Math.min(payload.metadata.waitTimeoutMs ?? LONG_POLL_MAX_MS, LONG_POLL_MAX_MS);
    const outcome = await waiter.wait(run.id, waitMs, clientGone(c));
    switch (outcome.state) {
      case "finished":
        // Only when the run was not marked waited on in time (a lapsed lease: this process
        // could not renew it): a retry, never a verdict.
        if (outcome.record.outcome === "superseded") {
          log.info(
            { runId: run.id, supersededBy: outcome.record.supersededBy },
            "run superseded under a waiting call: answered with a retry",
          );
          return supersededResponse(c, outcome.record, config.PUBLIC_URL);
        }
        afterDelivery(c, markDelivered(run.id));
        return verdictResponse(c, outcome.record, config.PUBLIC_URL, { warnings });
      case "timeout": {
        const { record } = outcome;
        const now = Date.now();
        const standing =
          record.status === "queued" ? await queueEstimate(store, run.id, now) : null;
        const k6 = await k6RunProgress(store, record, now);
        const retryAfter = retryAfterSeconds(record, k6, now, standing);
        const progress = await runProgress(store, record, standing?.position ?? null, now, k6);
        const dashboard = dashboardLink(c, config.PUBLIC_URL, run.id);
        return problem(
          c,
          503,
          `k6-gate: run ${run.id} is ${whereItIs(record, k6, now)}; retry to get its verdict`,
          [
            ...(standing ? queueLines(standing, now) : []),
            ...(k6?.vus === undefined ? [] : [k6Line(k6)]),
            `Dashboard: ${dashboard}`,
          ],
          retryAfter,
          { ...progress, dashboard, run: runJson(record), queue: standing },
        );
      }
      case "aborted":
        log.info({ runId: run.id }, "caller left; the run goes on");
        return problem(c, 503, "caller left", [], 1);
      case "missing":
        return problem(c, 503, `run ${run.id} disappeared; retry`, [], 1);
    }
  }

  /**
   * "running 8s of ~30s" (k6's time so far, of the script's or the last run's time), else
   * "queued (12s so far)".
   */
  function whereItIs(record: RunRecord, k6: RunK6Progress | null, now: number): string {
    if (k6?.expectedMs != null) {
      return `running ${formatDuration(k6.elapsedMs)} of ~${formatDuration(k6.expectedMs)}`;
    }
    return `${record.status} (${formatDuration(now - record.enqueuedAt)} so far)`;
  }

  /** "k6: 10/10 VUs, 1234 iterations complete, 0 interrupted". */
  function k6Line(k6: RunK6Progress): string {
    return `k6: ${k6.vus ?? 0}/${k6.maxVUs ?? 0} VUs, ${k6.iterations ?? 0} iterations complete, ${k6.interrupted ?? 0} interrupted`;
  }

  /** "place in the queue: 3 of 14 (2 runs ahead)", "estimated start: in about 40s (...)". */
  function queueLines(standing: QueueEstimate, now: number): string[] {
    const ahead = standing.ahead === 1 ? "1 run" : `${standing.ahead} runs`;
    const start =
      standing.estimatedStartAt === null
        ? "estimated start: unknown (no run is running to estimate from)"
        : `estimated start: in about ${formatDuration(Math.max(0, standing.estimatedStartAt - now))} (${new Date(standing.estimatedStartAt).toISOString()})`;
    return [
      `place in the queue: ${standing.position} of ${standing.queued} (${ahead} ahead)`,
      start,
    ];
  }

  function checkLimits(payload: WebhookPayload): string | undefined {
    const maxDuration = payload.metadata.maxDurationMs;
    if (maxDuration !== undefined && maxDuration > config.MAX_RUN_DURATION) {
      return `metadata.max_duration: ${formatDuration(maxDuration)} is over the server maximum ${formatDuration(config.MAX_RUN_DURATION)}`;
    }
    return undefined;
  }
}
