import { readSummary, type SummaryFindings } from "../../apps/worker/src/k6/summary";
import type { K6Exit } from "../../apps/worker/src/k6/k6-exit";

/** A run's findings, from its `metrics` object in the shape of k6's summary export. */
export function findingsOf(metrics: Record<string, Record<string, unknown>>): SummaryFindings {
  return readSummary({ metrics });
}

/** How a k6 process ended, for `verdictOf`: a clean exit 0 with `findings`, unless overridden. */
export function exitOf(findings: SummaryFindings, overrides: Partial<K6Exit> = {}): K6Exit {
  return {
    exitCode: 0,
    signal: null,
    timedOut: false,
    maxDurationMs: 60_000,
    scriptDurationMs: null,
    durationMs: 1000,
    findings,
    interruptedIterations: 0,
    firstInterruption: null,
    maxInterruptedIterations: 0,
    lastError: null,
    cloudUrl: null,
    cloudRequested: false,
    ...overrides,
  };
}
