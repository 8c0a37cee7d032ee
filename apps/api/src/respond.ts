import type { Context } from "hono";
import {
  describeCaller,
  identityOf,
  runPath,
  runUrl,
  verdictText,
  type RunK6Progress,
  type RunRecord,
} from "@k6-gate/shared";
import type { AppEnv } from "./deps";

export function wantsJson(c: Context<AppEnv>): boolean {
  return (c.req.header("accept") ?? "").includes("application/json");
}

/**
 * Problem responses: plain text lines (what Flagger shows), or JSON when asked, where
 * `extra` (the run, its place in the queue) joins `error` and `details`.
 */
export function problem(
  c: Context<AppEnv>,
  status: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 429 | 500 | 503,
  message: string,
  details: string[] = [],
  retryAfterSeconds?: number,
  extra: Record<string, unknown> = {},
): Response {
  if (retryAfterSeconds !== undefined) c.header("Retry-After", String(retryAfterSeconds));
  if (wantsJson(c)) return c.json({ ...extra, error: message, details }, status);
  return c.text([message, ...details.map((line) => `- ${line}`)].join("\n"), status);
}

/**
 * Runs `fn` once the response has been fully written to a connected client (the
 * "delivered" of docs/architecture.md, section 3). In-process requests (`app.request`) have no socket: the
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

/** ISO 8601 for an epoch-ms instant in JSON; null stays null. */
export const isoTime = (ms: number | null): string | null =>
  ms === null ? null : new Date(ms).toISOString();

/**
 * A run's dashboard page: under PUBLIC_URL when set, else under the address this call
 * reached the API at (what the caller, Flagger in the cluster, can reach).
 */
export function dashboardLink(
  c: Context<AppEnv>,
  publicUrl: string | undefined,
  runId: string,
): string {
  return runUrl(publicUrl, runId) ?? `${new URL(c.req.url).origin}${runPath(runId)}`;
}

/** 202 for `wait_for_results: "false"`: the run, and where to watch it. */
export function acceptedResponse(
  c: Context<AppEnv>,
  run: RunRecord,
  publicUrl: string | undefined,
): Response {
  const dashboard = dashboardLink(c, publicUrl, run.id);
  const message = `k6-gate: run ${run.id} accepted for ${run.namespace}/${run.name} (wait_for_results is false)`;
  if (wantsJson(c)) return c.json({ message, dashboard, run: runJson(run) }, 202);
  return c.text(`${message}\nDashboard: ${dashboard}`, 202);
}

/**
 * A run that has no verdict yet, machine-readably, for the JSON of a 503: `state` (queued
 * or running), `elapsed` (ms since it was queued), `expected` (ms its scenarios should
 * take, else the canary's last judged run took; null when neither is known), `position`
 * (1 = next to start; null once running), `progress` (k6's, while it runs).
 */
export interface RunProgress {
  state: RunRecord["status"];
  elapsed: number;
  expected: number | null;
  position: number | null;
  progress: RunK6Progress | null;
}

export function runJson(run: RunRecord) {
  return {
    id: run.id,
    ...identityOf(run),
    owner: run.owner,
    attempt: run.attempt,
    status: run.status,
    verdict: run.verdict,
    outcome: run.outcome,
    reason: run.reason,
    delivered: run.delivered,
    // Instants in JSON are ISO 8601 (UTC); durations are milliseconds.
    enqueuedAt: isoTime(run.enqueuedAt),
    startedAt: isoTime(run.startedAt),
    finishedAt: isoTime(run.finishedAt),
    queueWaitMs: run.startedAt ? run.startedAt - run.enqueuedAt : null,
    runTimeMs: run.startedAt && run.finishedAt ? run.finishedAt - run.startedAt : null,
    thresholds: run.result?.thresholds ?? [],
    metrics: run.result?.metrics ?? null,
    // Against the canary's earlier revisions; k6's CPU use while it ran.
    comparison: run.result?.comparison ?? null,
    saturation: run.result?.saturation ?? null,
    cloudUrl: run.cloudUrl,
    supersededBy: run.supersededBy,
    supersededByCaller: run.supersededByCaller,
    cancelledBy: run.cancelledBy,
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

/**
 * A run superseded while a caller waited on it: no verdict on its revision (a newer
 * revision's call ended it, or a call that only claimed to be one), so 503 + Retry-After,
 * which Flagger's client retries; the retry starts a fresh run (decision 41).
 */
export function supersededResponse(
  c: Context<AppEnv>,
  run: RunRecord,
  publicUrl: string | undefined,
): Response {
  const by = run.supersededByCaller
    ? `, a call with ${describeCaller(run.supersededByCaller)}`
    : "";
  const revision = run.checksum.slice(0, 12) || "(no checksum)";
  const dashboard = dashboardLink(c, publicUrl, run.id);
  return problem(
    c,
    503,
    `k6-gate: run ${run.id} was superseded before k6 judged it (${run.reason ?? "superseded"}${by}); no verdict for revision ${revision}: retry to run its check again`,
    [`Dashboard: ${dashboard}`],
    SUPERSEDED_RETRY_AFTER,
    { dashboard, run: runJson(run) },
  );
}

/** Seconds before a superseded run's caller retries: the retry starts a run at once. */
const SUPERSEDED_RETRY_AFTER = 1;
