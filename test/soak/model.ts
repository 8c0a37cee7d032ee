import type { ScriptKind } from "./scripts";

/** What a soak runs: the same options and seed ask for the same canaries and faults. */
export interface SoakOptions {
  seed: number;
  /** Canaries start new checks, and faults are injected, for this long; then it drains. */
  durationMs: number;
  /** Canaries played side by side, each one revision (check) after another. */
  canaries: number;
  apis: number;
  workers: number;
  workerConcurrency: number;
  /** Time between one fault's restart and the next fault, drawn in this range. */
  faultGapMs: [number, number];
  /** How long a `long` script sleeps, drawn in this range (seconds). */
  longSeconds: [number, number];
  /** A check with no verdict this long after it started did not end. */
  checkDeadlineMs: number;
  /** Progress lines (a fault, a check's verdict); the report is returned, not logged. */
  log?: (line: string) => void;
  /** Where the processes' logs go at the end (each run's own folder). */
  artifactsDir?: string;
}

/** The kinds of fault the chaos loop injects; each is followed by a restart. */
export const faultKinds = [
  "api SIGKILL",
  "api SIGTERM",
  "worker SIGKILL",
  "worker SIGTERM",
  "redis failover",
] as const;
/**
 * What the soak records: the injected kinds, and a failover the sentinels started on their
 * own (a primary that did not answer their PING within down-after-milliseconds).
 */
export type FaultKind = (typeof faultKinds)[number] | "spontaneous failover";

export interface Fault {
  id: number;
  kind: FaultKind;
  /** Milliseconds since the soak started. */
  at: number;
  /** What was hit: "api 1 (:21234)", "worker 0 (pid 1234)", "redis :25000 SIGTERM". */
  victim: string;
  /**
   * Checks it may have cost a k6 run (the allowance of invariant 3): those running on a
   * killed worker, and every check in flight during a failover (writes not yet replicated
   * are lost with the primary).
   */
  hits: string[];
  /** From the fault to service again (see the report for what each kind measures). */
  recoveryMs: number | null;
  notes: string[];
}

/** A run may stay counted as queued or running without a job for this long (reconciler: 2 s). */
export const JOBLESS_BOUND_MS = 15_000;

/** One revision's pre-rollout check of one canary, as Flagger plays it. */
export interface Check {
  id: string;
  canary: string;
  kind: ScriptKind;
  /** Sleep of a `long` script. */
  seconds: number;
  /** Flagger's payload checksum for this revision (run records carry it). */
  checksum: string;
  startedAt: number;
  endedAt: number | null;
  /** What Flagger got: 2xx is pass, a 4xx carrying a run id is fail. */
  verdict: "pass" | "fail" | null;
  /** The outcome word of a failed verdict (`thresholds_failed`, `error`, ...). */
  outcome: string | null;
  /** A failed verdict's text, as `kubectl describe canary` would show it. */
  body: string | null;
  /** Flagger's calls (each with its own retries) until the verdict. */
  calls: number;
  /** Why calls ended without a verdict (timeouts, 503 given up on, refused connections). */
  verdictless: string[];
  /** Faults that hit it (ids). */
  hits: number[];
}

export interface Violation {
  invariant: string;
  detail: string;
}

export interface SoakReport {
  seed: number;
  options: Omit<SoakOptions, "log" | "artifactsDir">;
  startedAt: string;
  /** Wall time of the whole soak: start, play, drain, checks. */
  wallMs: number;
  checks: Check[];
  faults: Fault[];
  /** k6 runs per check, from the target's `/soak/<check>/start` counts. */
  k6Runs: Record<string, number>;
  /** Run records per check (attempts summed), from k6-gate's history. */
  attempts: Record<string, number>;
  redis: {
    baselineBytes: number;
    peakBytes: number;
    endBytes: number;
    boundBytes: number;
    /** At the end, MEMORY USAGE summed per kind of key (bench/redis-sizing.ts's kinds). */
    byKind: Record<string, number>;
  };
  /** Runs still counted as queued or running once every check had ended, before settling. */
  inFlightAtEnd: number;
  /** How long the in-flight sets took to empty after the last check ended. */
  settleMs: number | null;
  /** Longest a run stayed counted as queued or running without a BullMQ job, audited each second. */
  jobAudit: { audits: number; longestJoblessMs: number };
  violations: Violation[];
}
