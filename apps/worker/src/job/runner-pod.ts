import {
  ApiException,
  CoreV1Api,
  type KubeConfig,
  type V1ContainerStatus,
  type V1PodTemplateSpec,
} from "@kubernetes/client-node";
import { timeoutOptions } from "../kubernetes-client";
import { K6Log } from "../k6/k6-log";
import { MetricStream } from "../k6/metric-stream";
import type { RunK6Outcome } from "../k6/run-k6";
import { TailBuffer } from "../k6/tail-buffer";

/** Bound on each API call; a run waiting longer fails its attempt, which is retried. */
export const API_TIMEOUT_MS = 10_000;
export const apiOptions = timeoutOptions(API_TIMEOUT_MS);
/**
 * How often a run's pods are looked at while k6 runs (one list call): a verdict waits at
 * most this long.
 */
export const POLL_MS = 1000;
/** After k6's kill grace, time for pod-run to print its result before it is killed. */
export const STOP_MARGIN_S = 5;
/** Time for runner pods to be scheduled and started, beyond the run's own limit. */
export const START_MARGIN_S = 120;
/** A container that waits for one of these will not start by waiting longer. */
const CANNOT_START = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "CreateContainerConfigError",
  "CreateContainerError",
]);

/** Where runner pods run and the PodTemplate they are made from (K6_RUNNER). */
export interface RunnerPodsConfig {
  namespace: string;
  /** The chart's PodTemplate for runner pods, in `namespace`. */
  podTemplate: string;
}

/**
 * The chart's PodTemplate, read once at start, so a worker that cannot start runner pods
 * fails its start with the reason.
 */
export async function readRunnerTemplate(
  kubeConfig: KubeConfig,
  { namespace, podTemplate }: RunnerPodsConfig,
): Promise<{ metadata?: { annotations?: Record<string, string> }; template: V1PodTemplateSpec }> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  let read;
  try {
    read = await core.readNamespacedPodTemplate({ namespace, name: podTemplate }, apiOptions);
  } catch (error) {
    throw new Error(
      `K6_RUNNER: PodTemplate ${namespace}/${podTemplate} could not be read: ${apiFailure(error)}`,
    );
  }
  if (!read.template)
    throw new Error(`K6_RUNNER: PodTemplate ${namespace}/${podTemplate} is empty`);
  return { metadata: { annotations: read.metadata?.annotations }, template: read.template };
}

/** Why a runner container will never start, or undefined while it may. */
export function cannotStart(status: V1ContainerStatus | undefined): string | undefined {
  const waiting = status?.state?.waiting;
  if (!waiting?.reason || !CANNOT_START.has(waiting.reason)) return undefined;
  return `the runner pod cannot start: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}`;
}

/** A call whose object is already gone (404) or already there (409) has done its work. */
export function unlessAlready(code: 404 | 409) {
  return (error: unknown) => {
    if (!(error instanceof ApiException && error.code === code)) throw error;
  };
}

/** An outcome with nothing k6 measured: the stream names why, and the output says it too. */
export function noResult(
  problem: string,
  times: { durationMs: number; maxDurationMs: number },
  fields: Partial<RunK6Outcome>,
): RunK6Outcome {
  const stream = new MetricStream();
  stream.problem = problem || undefined;
  const output = new TailBuffer(64 * 1024);
  if (problem) output.push(Buffer.from(`[k6-gate: ${problem}]\n`));
  return {
    exitCode: null,
    signal: null,
    timedOut: false,
    cancelled: false,
    measured: { from: "stream", stream },
    declaredThresholds: null,
    output,
    head: "",
    durationMs: Math.round(times.durationMs),
    spawnError: null,
    maxDurationMs: times.maxDurationMs,
    scriptDurationMs: null,
    plan: null,
    log: new K6Log(),
    ...fields,
  };
}

/** An API failure in words, its status only (nothing the API returned is passed on). */
export function apiFailure(error: unknown): string {
  if (error instanceof ApiException) return `Kubernetes API answered HTTP ${error.code}`;
  return error instanceof Error ? error.message : String(error);
}
