import { inputsOf, type Logger, type RunDetailsStore } from "@k6-gate/shared";
import type { RunProcessor } from "./processor";

/**
 * The processor, also keeping what the run was given (the script, its variables by name)
 * for the run page: the job data that holds them is deleted once the run is judged. A
 * Redis error here is logged, never the run's failure.
 */
export function recordingInputs(
  processRun: RunProcessor,
  details: RunDetailsStore,
  logger: Logger,
): RunProcessor {
  return async (run, options) => {
    // Written while k6 starts, not before: the page needs them by the time anyone looks.
    const saving = details
      .saveInputs(run.runId, inputsOf(run))
      .catch((error: unknown) =>
        logger.warn({ runId: run.runId, err: error }, "run inputs not recorded"),
      );
    try {
      return await processRun(run, options);
    } finally {
      await saving;
    }
  };
}
