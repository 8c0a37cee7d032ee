import type { Context } from "hono";
import { identityOf, verdictText, type RunRecord } from "@k6-gate/shared";
import type { AppEnv } from "./deps";

export function wantsJson(c: Context<AppEnv>): boolean {
  return (c.req.header("accept") ?? "").includes("application/json");
}

/** Problem responses: plain text lines (what Flagger shows), or JSON when asked. */
export function problem(
  c: Context<AppEnv>,
  status: 400 | 401 | 403 | 404 | 413 | 422 | 429 | 503,
  message: string,
  details: string[] = [],
  retryAfterSeconds?: number,
): Response {
  if (retryAfterSeconds !== undefined) c.header("Retry-After", String(retryAfterSeconds));
  if (wantsJson(c)) return c.json({ error: message, details }, status);
  return c.text([message, ...details.map((line) => `- ${line}`)].join("\n"), status);
}

/**
 * Runs `fn` once the response has been fully written to a connected client (the
 * "delivered" of design §3). In-process requests (`app.request`) have no socket: the
 * Response handed back is the delivery.
 */
export function afterDelivery(c: Context<AppEnv>, fn: () => void): void {
  const outgoing = c.env?.outgoing;
  if (!outgoing) {
    queueMicrotask(fn);
    return;
  }
  outgoing.once("finish", fn);
}

/** Aborts when the caller hangs up before the answer is written. */
export function clientGone(c: Context<AppEnv>): AbortSignal | undefined {
  const outgoing = c.env?.outgoing;
  if (!outgoing) return undefined;
  const controller = new AbortController();
  outgoing.once("close", () => {
    if (!outgoing.writableFinished) controller.abort();
  });
  return controller.signal;
}

export function runJson(run: RunRecord) {
  return {
    id: run.id,
    ...identityOf(run),
    attempt: run.attempt,
    status: run.status,
    verdict: run.verdict,
    outcome: run.outcome,
    reason: run.reason,
    delivered: run.delivered,
    enqueuedAt: run.enqueuedAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    queueWaitMs: run.startedAt ? run.startedAt - run.enqueuedAt : null,
    runTimeMs: run.startedAt && run.finishedAt ? run.finishedAt - run.startedAt : null,
    thresholds: run.result?.thresholds ?? [],
    metrics: run.result?.metrics ?? null,
    cloudUrl: run.cloudUrl,
    slackThreads: run.slackThreads,
    warnings: [...new Set([...(run.result?.warnings ?? []), ...run.warnings])],
  };
}

/**
 * 200 for a pass, 422 (never retried by Flagger) for a fail, with the verdict's text;
 * `warnings` are this call's own (unknown metadata keys), `note` a line after the verdict.
 */
export function verdictResponse(
  c: Context<AppEnv>,
  run: RunRecord,
  publicUrl: string | undefined,
  { warnings = [], note }: { warnings?: string[]; note?: string } = {},
): Response {
  const status = run.verdict === "pass" ? 200 : 422;
  const verdict = verdictText(run, publicUrl, warnings);
  const text = note ? `${verdict}\n${note}` : verdict;
  if (wantsJson(c))
    return c.json({ verdict: run.verdict, message: text, run: runJson(run), warnings }, status);
  return c.text(text, status);
}
