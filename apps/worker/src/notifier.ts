import type { RunJob, RunRecord, RunResult } from "@k6-gate/shared";

/**
 * Tells people about runs (Slack). Implementations must never throw into the run and
 * must bound their own time: a notification can delay nothing and change no verdict.
 */
export interface RunNotifier {
  runStarted(run: RunJob, record: RunRecord | null): Promise<void>;
  runFinished(
    run: RunJob,
    record: RunRecord | null,
    result: RunResult,
    output: string,
  ): Promise<void>;
  /**
   * This worker is done with the run, finished here or not (handed back, a stale attempt,
   * an error): drop what runStarted keeps for it. Safe right after `void runFinished(...)`,
   * which takes what it needs when called, and for a run never started here.
   */
  forget(runId: string): void;
}

export const silentNotifier: RunNotifier = {
  runStarted: async () => {},
  runFinished: async () => {},
  forget: () => {},
};
