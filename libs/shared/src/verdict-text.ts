import { formatDuration } from "./duration";
import type { RunRecord, ThresholdResult } from "./run";

/** "812.3ms" for time metrics, "4.50%" for rates, plain numbers otherwise. */
export function formatObserved(threshold: ThresholdResult): string {
  const value = threshold.observed;
  if (value === null) return "n/a";
  const aggregate = threshold.expression.trim().split(/[<>=!\s]/)[0] ?? "";
  if (aggregate === "rate") return `${(value * 100).toFixed(2)}%`;
  if (
    /duration|waiting|connecting|blocked|sending|receiving|tls/.test(threshold.metric) &&
    aggregate !== "count"
  ) {
    return `${Number(value.toFixed(2))}ms`;
  }
  return String(Number(value.toFixed(4)));
}

/** A run's dashboard page, relative to the API's base URL. */
export const runPath = (runId: string) => `/runs/${encodeURIComponent(runId)}`;

export function runUrl(publicUrl: string | undefined, runId: string): string | undefined {
  return publicUrl ? `${publicUrl.replace(/\/+$/, "")}${runPath(runId)}` : undefined;
}

/**
 * The verdict as Flagger shows it in `kubectl describe canary`: a few short lines, what
 * failed first.
 */
export function verdictText(run: RunRecord, publicUrl: string | undefined): string {
  const result = run.result;
  const head = `k6-gate: ${run.verdict === "pass" ? "PASS" : "FAIL"} ${run.namespace}/${run.name} (${run.outcome ?? "unknown"})`;
  const lines = [head];
  if (run.reason) lines.push(run.reason);
  for (const threshold of result?.thresholds.filter((t) => !t.ok) ?? []) {
    lines.push(
      `- ${threshold.metric} '${threshold.expression}' observed ${formatObserved(threshold)}`,
    );
  }
  const took = result ? `, took ${formatDuration(result.durationMs)}` : "";
  lines.push(`run ${run.id}, attempt ${run.attempt}${took}`);
  if (run.cloudUrl) lines.push(`k6 Cloud: ${run.cloudUrl}`);
  const url = runUrl(publicUrl, run.id);
  if (url) lines.push(`Dashboard: ${url}`);
  return lines.join("\n");
}
