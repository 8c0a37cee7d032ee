import { createHash } from "node:crypto";
import type { V1ConfigMap, V1PodTemplateSpec, V1Secret } from "@kubernetes/client-node";
import { podInputSecret, RUN_LABEL, RUNNER_LABELS } from "../job/job-spec";
import { RUNNER_CONTAINER } from "../job/runner-pod";
import { OPERATOR_SHIM_DIR } from "../pod/operator-flags";
import { POD_INPUT_DIR, type PodInput } from "../pod/pod-input";

/** k6-operator's TestRun resource (k6.io/v1alpha1; k6-operator v1.5.0). */
export const TESTRUN = { group: "k6.io", version: "v1alpha1", plural: "testruns" } as const;
/** The PodTemplate annotation naming the starter image (the chart's `runner.k6Operator.starterImage`). */
export const STARTER_IMAGE_ANNOTATION = "k6-gate.io/starter-image";
/** The label k6-operator gives a TestRun's pods (its runners also get `runner=true`). */
export const TESTRUN_POD_LABEL = "k6_cr";
/** The image's PATH (the node image's), after the k6 shim for pod-run. */
const IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const NAME_PREFIX = "k6-gate-tr-";

/**
 * One TestRun per run, named after it (a letter first, well within k6-operator's length
 * limit): a second attempt finds it by name and adopts it.
 */
export function testRunNameOf(runId: string): string {
  return `${NAME_PREFIX}${createHash("sha256").update(runId).digest("hex").slice(0, 20)}`;
}

/** A TestRun as k6-gate writes and reads it: the fields it uses (the CRD has many more). */
export interface TestRun {
  apiVersion: string;
  kind: "TestRun";
  metadata: { name: string; namespace: string; labels: Record<string, string>; uid?: string };
  spec: Record<string, unknown>;
  status?: { stage?: string };
}

export interface TestRunSpecInput {
  name: string;
  namespace: string;
  /** The chart's PodTemplate: the runner pods' image, resources, security and placement. */
  template: V1PodTemplateSpec;
  /** The starter's image (the PodTemplate's annotation); unset: k6-operator's default. */
  starterImage: string | undefined;
  input: PodInput;
  parallelism: number;
}

/**
 * The TestRun of a run split over `parallelism` pods, its script's ConfigMap (k6-operator
 * mounts it; pod-run reads the script from the Secret with the rest) and the Secret with
 * the pod input (script, environment, limits). Each runner pod is the PodTemplate's, with
 * no service account token, the Secret at /run/k6-gate and the image's k6 shim first on
 * its PATH, so the operator's `k6 run` is pod-run's: k6 as another user, its metric
 * stream read, one result line. No initializer (it would run the script's init once more)
 * and no cleanup by the operator: the worker reads the pods' logs, then deletes the TestRun.
 */
export function testRunManifests(spec: TestRunSpecInput): {
  testRun: TestRun;
  configMap: V1ConfigMap;
  secret: V1Secret;
} {
  const labels = {
    ...RUNNER_LABELS,
    ...spec.template.metadata?.labels,
    [RUN_LABEL]: spec.name.slice(NAME_PREFIX.length),
  };
  const podSpec = spec.template.spec;
  const container = podSpec?.containers.find((c) => c.name === RUNNER_CONTAINER);
  if (!podSpec || !container) {
    throw new Error(`the runner PodTemplate has no container named "${RUNNER_CONTAINER}"`);
  }
  // The run directory: the template's `tmp` (with its size limit), else a plain one.
  const tmp = podSpec.volumes?.find((volume) => volume.name === "tmp") ?? {
    name: "tmp",
    emptyDir: {},
  };
  const noToken = "false";
  const testRun: TestRun = {
    apiVersion: `${TESTRUN.group}/${TESTRUN.version}`,
    kind: "TestRun",
    metadata: { name: spec.name, namespace: spec.namespace, labels },
    spec: {
      parallelism: spec.parallelism,
      script: { configMap: { name: spec.name, file: "script.js" } },
      initializer: { disabled: true },
      runner: {
        image: container.image,
        imagePullPolicy: container.imagePullPolicy,
        imagePullSecrets: podSpec.imagePullSecrets,
        metadata: { labels },
        resources: container.resources,
        securityContext: podSpec.securityContext,
        containerSecurityContext: container.securityContext,
        nodeSelector: podSpec.nodeSelector,
        tolerations: podSpec.tolerations,
        affinity: podSpec.affinity,
        automountServiceAccountToken: noToken,
        // Ready once k6's REST API answers: the operator starts the runners when all are
        // (a 10 s default period would add up to 10 s to every start).
        readinessProbe: {
          httpGet: { path: "/v1/status", port: 6565 },
          periodSeconds: 1,
          failureThreshold: 300,
        },
        env: [{ name: "PATH", value: `${OPERATOR_SHIM_DIR}:${IMAGE_PATH}` }],
        volumes: [{ name: "run", secret: { secretName: spec.name, defaultMode: 0o400 } }, tmp],
        volumeMounts: [
          { name: "run", mountPath: POD_INPUT_DIR, readOnly: true },
          { name: "tmp", mountPath: "/tmp" },
        ],
      },
      starter: {
        ...(spec.starterImage
          ? { image: spec.starterImage, imagePullPolicy: container.imagePullPolicy }
          : {}),
        // The chart's NetworkPolicy lets these reach the runners' REST port, nothing else.
        metadata: { labels: { ...labels, "app.kubernetes.io/component": "k6-starter" } },
        automountServiceAccountToken: noToken,
        imagePullSecrets: podSpec.imagePullSecrets,
      },
    },
  };
  const configMap: V1ConfigMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: spec.name, namespace: spec.namespace, labels },
    data: { "script.js": spec.input.script },
  };
  return { testRun, configMap, secret: podInputSecret(spec, labels) };
}
