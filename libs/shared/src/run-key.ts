import { createHash } from "node:crypto";
import type { WebhookPayload } from "./payload";

/**
 * The identity of a check: everything that changes what runs, nothing that only changes
 * who is told (slack_channels, notification_context) or how long a caller waits.
 * Same key = same check, so Flagger's retries ride on one run.
 */
export function runKeyOf(payload: WebhookPayload): string {
  const { metadata } = payload;
  const identity = [
    payload.namespace,
    payload.name,
    payload.checksum,
    payload.phase,
    metadata.script,
    sortedEntries(metadata.envVars),
    sortedEntries(metadata.kubernetesSecrets),
    metadata.uploadToCloud,
    metadata.maxDurationMs ?? null,
    // Changes the verdict of the same test: a new allowance deserves a new run.
    metadata.maxInterruptedIterations,
  ];
  // Prefixed with a letter so a key (and job ids built from it) is never all digits.
  return `k${createHash("sha256").update(JSON.stringify(identity)).digest("hex").slice(0, 24)}`;
}

function sortedEntries(record: Record<string, unknown>): [string, unknown][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** BullMQ job id of the n-th run of a key: no ":" and never only digits. */
export function runIdOf(runKey: string, sequence: number): string {
  return `${runKey}-${sequence}`;
}
