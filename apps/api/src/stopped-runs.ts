import type { Queue } from "bullmq";
import type { Logger } from "@k6-gate/shared";

/**
 * Takes the jobs of runs that ended while queued (superseded, cancelled) out of the queue,
 * so no worker even fetches them. Best effort, and never needed for correctness: a job a
 * worker has just taken (locked) stays, and `START` then finds its run finished and runs
 * nothing; a job left behind by a crash here is skipped the same way.
 */
export async function removeQueuedJobs(
  queue: Queue,
  runIds: string[],
  logger: Logger,
): Promise<void> {
  const removals = await Promise.allSettled(runIds.map((id) => queue.remove(id)));
  removals.forEach((removal, i) => {
    if (removal.status === "rejected") {
      logger.warn({ runId: runIds[i], err: removal.reason }, "ended run's job not removed");
    }
  });
}
