import type { K6Progress, Logger, RunStore } from "@k6-gate/shared";
import type { K6ProgressListener } from "./k6/k6-stdout";

/**
 * Stores a running attempt's k6 progress on its run, fenced like its live output: k6's
 * start at once (the run page's expected time starts with it), then the latest VU and
 * iteration counts at most once every `everyMs`, however often k6 prints them.
 */
export function progressSaver(
  store: RunStore,
  logger: Logger,
  runId: string,
  attemptToken: string,
  everyMs: number,
): K6ProgressListener {
  const warn = (error: unknown) => logger.warn({ runId, err: error }, "k6 progress not saved");
  let latest: K6Progress | undefined;
  let pending: NodeJS.Timeout | undefined;
  return {
    started(at, expectedMs) {
      store.setK6Progress(runId, attemptToken, { started: { at, expectedMs } }).catch(warn);
    },
    update(progress) {
      latest = progress;
      // A write after the verdict is refused by the store (the run is no longer running).
      pending ??= setTimeout(() => {
        pending = undefined;
        store.setK6Progress(runId, attemptToken, { progress: latest }).catch(warn);
      }, everyMs);
    },
  };
}
