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
}

export const silentNotifier: RunNotifier = {
  runStarted: async () => {},
  runFinished: async () => {},
};
