import { comparisonLine } from "./comparison";
import { formatDuration } from "./duration";
import { formatMs, formatNumber, formatRate, TIME_METRIC } from "./format";
import type { RunCaller, RunRecord, ThresholdResult } from "./run";

/** "812.35 ms" for time metrics, "4.50%" for rates, plain numbers otherwise (format.ts). */
export function formatObserved(threshold: ThresholdResult): string {
  const value = threshold.observed;
  if (value === null) return "n/a";
  const aggregate = threshold.expression.trim().split(/[<>=!\s]/)[0] ?? "";
  if (aggregate === "rate") return formatRate(value);
  if (TIME_METRIC.test(threshold.metric) && aggregate !== "count") {
    return formatMs(value);
  }
  return formatNumber(value);
}

/** "token team-a from 10.0.0.5", "no token, from 10.0.0.5": who made a call, for people. */
export function describeCaller(caller: RunCaller): string {
  const from = caller.address ? `from ${caller.address}` : "from an unknown address";
  return caller.tokenName ? `token ${caller.tokenName} ${from}` : `no token, ${from}`;
}

/** A run's dashboard page, relative to the API's base URL. */
export const runPath = (runId: string) => `/runs/${encodeURIComponent(runId)}`;

export function runUrl(publicUrl: string | undefined, runId: string): string | undefined {
  return publicUrl ? `${publicUrl.replace(/\/+$/, "")}${runPath(runId)}` : undefined;
}

/** Flagger shows the body in an event: a few lines, whatever the run. */
const MAX_VERDICT_BYTES = 1000;
const MAX_THRESHOLD_LINES = 6;
const MAX_LINE_CHARS = 200;
/** The reason names every piece of missing evidence, or k6's own error: it gets more room. */
const MAX_REASON_CHARS = 500;

const clip = (line: string, max = MAX_LINE_CHARS) =>
  line.length > max ? `${line.slice(0, max - 1)}…` : line;

/**
 * The verdict as Flagger shows it in `kubectl describe canary`: the verdict, canary and
 * revision first, then why (the failed thresholds, observed against their limit), how it
 * compares with the canary's earlier revisions, what to be wary of, and where to look. Under 1 KB however many thresholds fail.
 */
export function verdictText(
  run: RunRecord,
  publicUrl: string | undefined,
  callWarnings: string[] = [],
): string {
  const result = run.result;
  const resultWarnings = result?.warnings ?? [];
  const judgedNothing =
    run.verdict === "pass" && resultWarnings.some((w) => w.startsWith("no thresholds"));
  const verdict = run.verdict === "pass" ? "PASS" : "FAIL";
  const revision = run.checksum ? ` revision ${run.checksum.slice(0, 12)}` : "";
  const head = `k6-gate: ${verdict}${judgedNothing ? " (no thresholds: k6 judged nothing)" : ""} ${run.namespace}/${run.name} (${run.outcome ?? "unknown"})${revision}`;
  const lines = [head];
  if (run.reason) lines.push(clip(run.reason, MAX_REASON_CHARS));
  // A regressed run's reason is its comparison already.
  const compared = run.outcome === "regressed" ? null : comparisonLine(result?.comparison);
  if (compared) lines.push(clip(compared));
  const failed = result?.thresholds.filter((t) => !t.ok) ?? [];
  for (const threshold of failed.slice(0, MAX_THRESHOLD_LINES)) {
    lines.push(
      clip(`- ${threshold.metric} '${threshold.expression}' observed ${formatObserved(threshold)}`),
    );
  }
  if (failed.length > MAX_THRESHOLD_LINES) {
    lines.push(`- ... and ${failed.length - MAX_THRESHOLD_LINES} more failed thresholds`);
  }
  const warnings = [...new Set([...resultWarnings, ...run.warnings, ...callWarnings])];
  for (const warning of warnings.filter((w) => !(judgedNothing && w.startsWith("no thresholds"))))
    lines.push(clip(`warning: ${warning}`));
  const took = result ? `, took ${formatDuration(result.durationMs)}` : "";
  const tail = [`run ${run.id}, attempt ${run.attempt}${took}`];
  if (run.cloudUrl) tail.push(`k6 Cloud: ${run.cloudUrl}`);
  const url = runUrl(publicUrl, run.id);
  if (url) tail.push(`Dashboard: ${url}`);
  // The run line and the links always fit: warnings and thresholds give way first.
  const budget = MAX_VERDICT_BYTES - Buffer.byteLength(tail.join("\n")) - 1;
  while (lines.length > 1 && Buffer.byteLength(lines.join("\n")) > budget) lines.pop();
  return [...lines, ...tail].join("\n");
}
