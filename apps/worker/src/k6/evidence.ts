import type { K6Exit } from "./k6-exit";
import type { SummaryFindings } from "./summary";

const iterationsText = (count: number) => `${count} ${count === 1 ? "iteration" : "iterations"}`;

/**
 * The evidence a run that k6 passed lacks, one line each; empty when the pass stands
 * (README, "No pass without evidence"). k6 exits 0 when every iteration threw before its
 * checks, when no iteration finished before the test ended, when a threshold's metric got
 * no sample (k6 skips such thresholds), and when the target never answered. k6 counts an
 * iteration that threw in `iterations`, so the completed ones are the rest.
 */
export function missingEvidence(exit: K6Exit): string[] {
  if (!exit.findings) {
    return [
      "k6's metric stream is missing or holds what k6 does not write, so nothing shows what it measured",
    ];
  }
  const interrupted = exit.interruptedIterations;
  const cause = exit.firstInterruption ? `: ${exit.firstInterruption}` : "";
  const completed = Math.max(0, (exit.findings.metrics.iterations ?? 0) - interrupted);
  const missing: string[] = [];
  if (completed === 0) {
    missing.push(
      interrupted > 0
        ? `no iteration completed (${interrupted} interrupted by exceptions${cause})`
        : "no iteration completed",
    );
  } else if (interrupted > exit.maxInterruptedIterations) {
    missing.push(
      `${iterationsText(interrupted)} interrupted by exceptions (max_interrupted_iterations ${exit.maxInterruptedIterations})${cause}`,
    );
  }
  if (exit.requireThresholds && exit.findings.thresholds.length === 0) {
    missing.push("the script defines no thresholds (this server sets REQUIRE_THRESHOLDS)");
  }
  for (const threshold of exit.findings.unsampledThresholds) {
    missing.push(`threshold ${threshold.metric} '${threshold.expression}' has no samples`);
  }
  missing.push(...(exit.findings.thresholdMismatches ?? []));
  const deadTarget = exit.allowFailedRequests ? undefined : deadTargetOf(exit.findings);
  if (deadTarget) missing.push(`${deadTarget} (set allow_failed_requests if the test expects it)`);
  return missing;
}

/**
 * Why the HTTP answers show no live target, or undefined. A refused connection is a
 * sample like any other (duration 0, status 0), so `p(95)<300` holds on a dead canary and
 * a counter of 5xx answers stays at 0: the answers themselves must show a live target.
 */
export function deadTargetOf(findings: SummaryFindings): string | undefined {
  const http = findings.http;
  if (!http || http.requests === 0) return undefined;
  const of = `${http.requests} ${http.requests === 1 ? "request" : "requests"}`;
  if (http.withStatus === http.requests) {
    if (http.noResponse === http.requests)
      return `no HTTP request got a response (${of}: connection refused, reset or timed out)`;
    if (http.serverErrors === http.requests) return `every HTTP response was a 5xx (${of})`;
    if (http.noResponse + http.serverErrors === http.requests)
      return `every HTTP request got no response or a 5xx (${of}: ${http.noResponse} without response, ${http.serverErrors} 5xx)`;
  }
  if (findings.metrics.httpReqFailedRate === 1)
    return `every HTTP request failed (http_req_failed 100% of ${of})`;
  return undefined;
}

/** What a verdict should say about its own evidence, whatever it is. */
export function resultWarnings(findings: SummaryFindings | undefined): string[] {
  const warnings: string[] = [];
  if (findings && findings.thresholds.length === 0) {
    warnings.push("no thresholds: k6 judged nothing");
  }
  // Said even when `allow_failed_requests` lets the run pass.
  const deadTarget = findings && deadTargetOf(findings);
  if (deadTarget) warnings.push(deadTarget);
  if (findings?.sourceWarning) warnings.push(findings.sourceWarning);
  return warnings;
}
