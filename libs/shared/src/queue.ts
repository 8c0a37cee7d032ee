import { z } from "zod";
import type { JobsOptions, Queue } from "bullmq";
import type { WebhookPayload } from "./payload";
import { runKeyOf } from "./run-key";
import { runIdentitySchema } from "./run";

export const RUN_QUEUE = "k6-runs";
export const RUN_JOB_NAME = "k6-run";

const secretRefSchema = z.object({
  namespace: z.string().optional(),
  secret: z.string(),
  key: z.string(),
});

/**
 * What a run runs: its identity and the check's settings. It carries no secret of the
 * service: `kubernetesSecrets` holds references, resolved by the worker at run time.
 */
export const runSpecSchema = runIdentitySchema.extend({
  script: z.string().min(1),
  envVars: z.record(z.string(), z.string()),
  kubernetesSecrets: z.record(z.string(), secretRefSchema),
  uploadToCloud: z.boolean(),
  maxDurationMs: z.number().int().positive().optional(),
  /** Absent from jobs queued before the key existed. */
  maxInterruptedIterations: z.number().int().nonnegative().optional(),
  slackChannels: z.array(z.string()),
  notificationContext: z.string().optional(),
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

/**
 * Adds a run's job. The job id is the run id, so adding again is a no-op: callers that
 * are unsure whether it was added (an attach after a crash, the reconciler) just add it.
 */
export async function enqueueRun(queue: Queue, job: RunJob): Promise<void> {
  await queue.add(RUN_JOB_NAME, job, { ...runJobOptions, jobId: job.runId });
}

/** The job a webhook call asks for, before it has a run id. */
export function runSpecOf(payload: WebhookPayload): RunSpec {
  const { metadata } = payload;
  const check = {
    ...runIdentitySchema.omit({ runKey: true }).parse(payload),
    script: metadata.script,
    envVars: metadata.envVars,
    kubernetesSecrets: metadata.kubernetesSecrets,
    uploadToCloud: metadata.uploadToCloud,
    maxDurationMs: metadata.maxDurationMs,
    maxInterruptedIterations: metadata.maxInterruptedIterations,
    slackChannels: metadata.slackChannels,
    notificationContext: metadata.notificationContext,
    warnings: metadata.warnings,
  };
  return { ...check, runKey: runKeyOf(check) };
}
