import type { SummaryFindings } from "./summary";

/** How k6 ended, and what the worker learned of its run: what a verdict is made of. */
export interface K6Exit {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  maxDurationMs: number;
  /** The script's scenarios' duration when `maxDurationMs` was derived from it. */
  scriptDurationMs: number | null;
  durationMs: number;
  findings: SummaryFindings | undefined;
  /** Iterations k6 logged as ended by an uncaught exception, and the first one's message. */
  interruptedIterations: number;
  firstInterruption: string | null;
  /** How many of those the metadata allows (`max_interrupted_iterations`). */
  maxInterruptedIterations: number;
  /** The last error k6 logged, for the reason text only: the verdict never depends on it. */
  lastError: string | null;
  cloudUrl: string | null;
  cloudRequested: boolean;
  /** REQUIRE_THRESHOLDS: a script that defines none fails rather than passing on nothing. */
  requireThresholds?: boolean;
  /** `allow_failed_requests`: a test that expects every HTTP request to fail may pass. */
  allowFailedRequests?: boolean;
}
