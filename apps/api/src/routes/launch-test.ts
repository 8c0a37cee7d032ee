import type { Context } from "hono";
import {
  describeIssues,
  enqueueRun,
  formatDuration,
  runSpecOf,
  webhookPayloadSchema,
  type WebhookPayload,
} from "@k6-gate/shared";
import type { AppDeps, AppEnv } from "../deps";
import {
  afterDelivery,
  clientGone,
  problem,
  runJson,
  verdictResponse,
  wantsJson,
} from "../respond";
import { backlogRetryAfter, retryAfterSeconds } from "../retry-after";

/**
 * POST /launch-test: Flagger's webhook. Applies design §3's four-step rule atomically in
 * Redis, then long-polls the run for its verdict.
 */
export function launchTest(deps: AppDeps) {
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
    } finally {
      lease.release();
    }
  };

  async function decideAndWait(c: Context<AppEnv>, payload: WebhookPayload): Promise<Response> {
    const job = runSpecOf(payload);
    const decision = await store.decide({
      job,
      minFailureDelayMs: payload.metadata.minFailureDelayMs,
      maxQueueDepth: config.MAX_QUEUE_DEPTH,
      now: Date.now(),
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
      runId: decision.action === "busy" ? undefined : decision.run.id,
    });

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
    if (run.status === "queued") await enqueueRun(queue, { ...job, runId: run.id });

    if (!payload.metadata.waitForResults) {
      afterDelivery(c, markDelivered(run.id));
      const message = `k6-gate: run ${run.id} accepted for ${payload.namespace}/${payload.name} (wait_for_results is false)`;
      return wantsJson(c) ? c.json({ message, run: runJson(run) }, 202) : c.text(message, 202);
    }

    // No wait_timeout: hold until the verdict, as flagger-k6-webhook does; Flagger's own
    // timeout decides, and a retry (or the next interval) reattaches to the same run.
    const waitMs = Math.min(
      payload.metadata.waitTimeoutMs ?? config.DEFAULT_WAIT_TIMEOUT ?? config.LONG_POLL_MAX,
      config.LONG_POLL_MAX,
    );
    const outcome = await waiter.wait(run.id, waitMs, clientGone(c));
    switch (outcome.state) {
      case "finished":
        afterDelivery(c, markDelivered(run.id));
        return verdictResponse(c, outcome.record, config.PUBLIC_URL, { warnings });
      case "timeout": {
        const retryAfter = await retryAfterSeconds(store, outcome.record);
        const elapsed = formatDuration(Date.now() - outcome.record.enqueuedAt);
        return problem(
          c,
          503,
          `k6-gate: run ${run.id} is ${outcome.record.status} (${elapsed} so far); retry to get its verdict`,
          [],
          retryAfter,
        );
      }
      case "aborted":
        log.info({ runId: run.id }, "caller left; the run goes on");
        return problem(c, 503, "caller left", [], 1);
      case "missing":
        return problem(c, 503, `run ${run.id} disappeared; retry`, [], 1);
    }
  }

  function checkLimits(payload: WebhookPayload): string | undefined {
    const maxDuration = payload.metadata.maxDurationMs;
    if (maxDuration !== undefined && maxDuration > config.MAX_RUN_DURATION) {
      return `metadata.max_duration: ${formatDuration(maxDuration)} is over the server maximum ${formatDuration(config.MAX_RUN_DURATION)}`;
    }
    return undefined;
  }
}
