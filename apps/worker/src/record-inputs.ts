import { inputsOf, type Logger, type RunDetailsStore } from "@k6-gate/shared";
import type { RunProcessor } from "./processor";

/**
 * The processor, first keeping what the run was given (the script, its variables by name)
 * for the run page: the job data that holds them is deleted once the run is judged. A
 * Redis error here is logged, never the run's failure.
 */
export function recordingInputs(
  processRun: RunProcessor,
  details: RunDetailsStore,
  logger: Logger,
): RunProcessor {
  return async (run, options) => {
    await details
      .saveInputs(run.runId, inputsOf(run))
      .catch((error: unknown) =>
        logger.warn({ runId: run.runId, err: error }, "run inputs not recorded"),
      );
    return processRun(run, options);
  };
}
