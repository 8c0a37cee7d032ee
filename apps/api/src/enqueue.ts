import type { Queue } from "bullmq";
import { runJobOptions, type RunJob, type WebhookPayload } from "@k6-gate/shared";

export function runJobOf(runId: string, runKey: string, payload: WebhookPayload): RunJob {
  const { metadata } = payload;
  return {
    runId,
    runKey,
    namespace: payload.namespace,
    name: payload.name,
    checksum: payload.checksum,
    phase: payload.phase,
    script: metadata.script,
    envVars: metadata.envVars,
    kubernetesSecrets: metadata.kubernetesSecrets,
    uploadToCloud: metadata.uploadToCloud,
    maxDurationMs: metadata.maxDurationMs,
    slackChannels: metadata.slackChannels,
    notificationContext: metadata.notificationContext,
  };
}

/**
 * Adds the run's job. The job id is the run id, so adding again is a no-op: a call that
 * attaches to a queued run re-adds it in case the API that created it died in between.
 */
export async function enqueueRun(queue: Queue, job: RunJob): Promise<void> {
  await queue.add("k6-run", job, { ...runJobOptions, jobId: job.runId });
}
