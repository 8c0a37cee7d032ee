// A ScaledObject evaluated by KEDA's own scaler code (test/keda-scaler, built into
// .tools/bin by mk/keda-scaler.mk), and the replica count the HPA KEDA creates asks for.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { TOOLS_BIN } from "@k6-gate/testkit/paths";
import { type K8sObject, at } from "./k8s-objects";

export const KEDA_SCALER = join(TOOLS_BIN, "keda-scaler");

/** One trigger as KEDA polled it: its HPA metric and target, and the value or the error. */
export interface KedaTrigger {
  name: string;
  type: string;
  metricName: string;
  targetType: string;
  target: number;
  value?: number;
  active?: boolean;
  error?: string;
}

/** Polls each trigger of `scaledObject` once with KEDA's scaler code. */
export async function pollTriggers(scaledObject: K8sObject["raw"]): Promise<KedaTrigger[]> {
  const child = promisify(execFile)(KEDA_SCALER, [], { timeout: 30_000 });
  child.child.stdin?.end(JSON.stringify(scaledObject));
  const { stdout } = await child;
  return (JSON.parse(stdout) as { triggers: KedaTrigger[] }).triggers;
}

/**
 * The workers the HPA asks for on an AverageValue metric: ceil(value / target), within
 * the ScaledObject's minReplicaCount and maxReplicaCount (KEDA's defaults 0 and 100).
 */
export function desiredReplicas(trigger: KedaTrigger, scaledObject: K8sObject["raw"]): number {
  if (trigger.value === undefined || trigger.targetType !== "AverageValue")
    throw new Error(`no AverageValue metric to scale on: ${JSON.stringify(trigger)}`);
  const min = Number(at(scaledObject, "spec.minReplicaCount") ?? 0);
  const max = Number(at(scaledObject, "spec.maxReplicaCount") ?? 100);
  return Math.min(max, Math.max(min, Math.ceil(trigger.value / trigger.target)));
}
