import { z } from "zod";
import type { JobsOptions } from "bullmq";

export const RUN_QUEUE = "k6-runs";

const secretRefSchema = z.object({
  namespace: z.string().optional(),
  secret: z.string(),
  key: z.string(),
});

/**
 * A run's job data. It carries what the worker needs to run k6 and no secret of the
 * service: `kubernetesSecrets` holds references, resolved by the worker at run time.
 */
export const runJobSchema = z.object({
  runId: z.string().min(1),
  runKey: z.string().min(1),
  namespace: z.string(),
  name: z.string(),
  checksum: z.string(),
  phase: z.string(),
  script: z.string().min(1),
  envVars: z.record(z.string(), z.string()),
  kubernetesSecrets: z.record(z.string(), secretRefSchema),
  uploadToCloud: z.boolean(),
  maxDurationMs: z.number().int().positive().optional(),
  slackChannels: z.array(z.string()),
  notificationContext: z.string().optional(),
});
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
