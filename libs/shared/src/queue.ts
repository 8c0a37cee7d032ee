import { z } from "zod";
import type { JobsOptions, Queue } from "bullmq";
import { keptOf, keptShape } from "./metadata";
import type { WebhookPayload } from "./payload";
import { runKeyOf } from "./run-key";
import { runIdentitySchema } from "./run";

export const RUN_QUEUE = "k6-runs";

/**
 * A job's name, for people reading the queue board: `namespace/name@revision` (the
 * checksum's first 12 characters). Workers take every job of the queue whatever its name.
 */
export function runJobName(run: { namespace: string; name: string; checksum: string }): string {
  return `${run.namespace}/${run.name}@${run.checksum.slice(0, 12) || "-"}`;
}

/**
 * What a run runs: its identity and what it keeps of the check's metadata (metadata.ts's
 * table). It carries no secret of the service: `kubernetesSecrets` holds references,
 * resolved by the worker at run time.
 */
export const runSpecSchema = runIdentitySchema.extend({
  ...keptShape,
  /** What the call did not understand (unknown metadata keys), shown with the verdict. */
  warnings: z.array(z.string()).optional(),
});
export type RunSpec = z.infer<typeof runSpecSchema>;

/** A run's job data: its spec under the run id it is queued as. */
export const runJobSchema = runSpecSchema.extend({ runId: z.string().min(1) });
export type RunJob = z.infer<typeof runJobSchema>;

/**
 * Finished jobs are pruned: history lives in k6-gate's own run records, so BullMQ keeps
 * only enough for the queue dashboard. A job fails only on infrastructure errors (k6's
 * own failures are verdicts, not job failures), so a couple of attempts is plenty.
 */
export const runJobOptions: JobsOptions = {
  attempts: 3,
  backoff: { type: "exponential", delay: 2000 },
  removeOnComplete: { age: 24 * 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 1000 },
};

/** BullMQ's largest job priority (1 is taken first; 0, none, before any). */
export const MAX_JOB_PRIORITY = 2_097_152;

/**
 * Adds a run's job, with the priority `DECIDE` gave its run. The job id is the run id, so
 * adding again is a no-op: callers that are unsure whether it was added (an attach after a
 * crash, the reconciler) just add it.
 */
export async function enqueueRun(
  queue: Queue,
  job: RunJob,
  priority: number | null = null,
): Promise<void> {
  await queue.add(runJobName(job), job, {
    ...runJobOptions,
    jobId: job.runId,
    // Fair ordering across namespaces (DECIDE gives it); runs older than it have none.
    ...(priority ? { priority: Math.min(priority, MAX_JOB_PRIORITY) } : {}),
  });
}

/** The job a webhook call asks for, before it has a run id. */
export function runSpecOf(payload: WebhookPayload): RunSpec {
  const check = runSpecSchema.omit({ runKey: true }).parse({
    ...payload,
    ...keptOf(payload.metadata),
    warnings: payload.metadata.warnings,
  });
  return { ...check, runKey: runKeyOf(check) };
}
