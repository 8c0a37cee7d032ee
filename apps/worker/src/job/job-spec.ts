import { createHash } from "node:crypto";
import type { V1Job, V1PodTemplateSpec, V1Secret } from "@kubernetes/client-node";
import { POD_INPUT_DIR, POD_INPUT_FILE, type PodInput } from "../pod/pod-input";
import { RUNNER_CONTAINER, START_MARGIN_S } from "./runner-pod";

/** Labels of every runner pod, its Job and its Secret, unless the PodTemplate has its own. */
export const RUNNER_LABELS = {
  "app.kubernetes.io/name": "k6-gate",
  "app.kubernetes.io/component": "k6-runner",
};
/** The run a Job belongs to (a digest of the run id: label values are short). */
export const RUN_LABEL = "k6-gate.io/run";

/**
 * One Job per run, named after the run: a second attempt (a worker died, a job handed
 * back) finds it by name and adopts it, and a second create for the same run fails
 * with AlreadyExists instead of starting a second k6.
 */
export function jobNameOf(runId: string): string {
  return `k6-gate-run-${createHash("sha256").update(runId).digest("hex").slice(0, 20)}`;
}

export interface JobSpecInput {
  name: string;
  namespace: string;
  /** The chart's PodTemplate (image, resources, security context, placement). */
  template: V1PodTemplateSpec;
  input: PodInput;
  /** The limit k6 runs under plus its kill grace, in seconds. */
  limitSeconds: number;
  /** SIGTERM to SIGKILL of a deleted pod: pod-run stops k6 (its kill grace) and prints. */
  stopGraceSeconds: number;
}

/**
 * The Job and its Secret (the run's script and environment). Whatever the template says,
 * the pod gets no service account token, no Service addresses in its environment, no
 * host namespaces, and never restarts: one k6 per attempt.
 */
export function jobManifests(spec: JobSpecInput): { job: V1Job; secret: V1Secret } {
  // The template's labels (the chart's, which its NetworkPolicy selects) win over ours.
  const labels = {
    ...RUNNER_LABELS,
    ...spec.template.metadata?.labels,
    [RUN_LABEL]: spec.name.slice("k6-gate-run-".length),
  };
  const podSpec = spec.template.spec;
  const container = podSpec?.containers.find((c) => c.name === RUNNER_CONTAINER);
  if (!podSpec || !container) {
    throw new Error(`the runner PodTemplate has no container named "${RUNNER_CONTAINER}"`);
  }
  const job: V1Job = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: spec.name, namespace: spec.namespace, labels },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: spec.limitSeconds + START_MARGIN_S,
      // Kept after it ends until a worker read it, even one that took the run up late.
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { ...spec.template.metadata, labels },
        spec: {
          ...podSpec,
          restartPolicy: "Never",
          terminationGracePeriodSeconds: spec.stopGraceSeconds,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          hostNetwork: false,
          hostPID: false,
          hostIPC: false,
          shareProcessNamespace: false,
          containers: [
            {
              ...container,
              args: ["pod-run"],
              volumeMounts: [
                ...(container.volumeMounts ?? []),
                { name: "run", mountPath: POD_INPUT_DIR, readOnly: true },
                { name: "tmp", mountPath: "/tmp" },
              ],
            },
          ],
          volumes: [
            ...(podSpec.volumes ?? []).filter((volume) => volume.name !== "run"),
            { name: "run", secret: { secretName: spec.name, defaultMode: 0o400 } },
            // The run directory: the template's `tmp` (with its size limit), else a plain one.
            ...(podSpec.volumes?.some((volume) => volume.name === "tmp")
              ? []
              : [{ name: "tmp", emptyDir: {} }]),
          ],
        },
      },
    },
  };
  return { job, secret: podInputSecret(spec, labels) };
}

/** The Secret a run's pods read their input from (at POD_INPUT_DIR), named as its owner. */
export function podInputSecret(
  spec: { name: string; namespace: string; input: PodInput },
  labels: Record<string, string>,
): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: spec.name, namespace: spec.namespace, labels },
    type: "Opaque",
    stringData: { [POD_INPUT_FILE]: JSON.stringify(spec.input) },
  };
}
