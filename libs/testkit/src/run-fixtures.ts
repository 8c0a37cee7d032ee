import type { RunRecord, RunResult, RunSpec, RunStore } from "@k6-gate/shared";
import { emptyMetrics } from "@k6-gate/shared";

/** A run's job as the API would queue it, for tests that drive RunStore directly. */
export function specOf(fields: Partial<RunSpec> & Pick<RunSpec, "name" | "checksum">): RunSpec {
  return {
    runKey: `key-${fields.name}-${fields.checksum}`,
    namespace: "ns",
    phase: "Progressing",
    script: "export default function () {}",
    envVars: {},
    kubernetesSecrets: {},
    uploadToCloud: false,
    slackChannels: [],
    ...fields,
  };
}

/** Creates a queued run (throws when the store decides anything else). */
export async function createRun(store: RunStore, job: RunSpec, now: number): Promise<RunRecord> {
  const decision = await store.decide({ job, minFailureDelayMs: 0, maxQueueDepth: 100, now });
  if (decision.action !== "created") throw new Error(`expected a new run, got ${decision.action}`);
  return decision.run;
}

export const passedResult: RunResult = {
  verdict: "pass",
  outcome: "passed",
  reason: "ok",
  exitCode: 0,
  thresholds: [],
  metrics: { ...emptyMetrics, iterations: 1 },
  cloudUrl: null,
  durationMs: 10,
};
