import {
  ApiException,
  CoreV1Api,
  type KubeConfig,
  type V1ContainerStatus,
  type V1Pod,
  type V1PodTemplateSpec,
} from "@kubernetes/client-node";
import { timeoutOptions } from "../kubernetes-client";
import { K6Log } from "../k6/k6-log";
import { outcomeOfPodLog } from "../k6/pod-result";
import { MetricStream } from "../k6/metric-stream";
import type { RunnerRun } from "../k6/runner";
import type { RunK6Options, RunK6Outcome } from "../k6/run-k6";
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

/** The container of a runner pod that runs k6 (`k6-gate pod-run`). */
export const RUNNER_CONTAINER = "k6";

export const runnerStatusOf = (pod: V1Pod | undefined) =>
  pod?.status?.containerStatuses?.find((c) => c.name === RUNNER_CONTAINER);

/**
 * What an ended runner pod printed: its log's last line, the result pod-run writes, read
 * through the API server; `failed` names why there is none.
 */
export async function podOutcome(
  core: CoreV1Api,
  pod: V1Pod,
  outputMaxBytes: number,
  failed: ReturnType<typeof podRunOf>["failed"],
): Promise<RunK6Outcome> {
  const { name = "", namespace = "" } = pod.metadata ?? {};
  const log = await core.readNamespacedPodLog(
    { namespace, name, container: RUNNER_CONTAINER },
    apiOptions,
  );
  const read = outcomeOfPodLog(log, outputMaxBytes);
  if (read.ok) return read.outcome;
  const terminated = runnerStatusOf(pod)?.state?.terminated;
  const how = `container ${terminated?.reason ?? "ended"}, exit ${terminated?.exitCode}`;
  return failed(`${name}: ${read.problem} (${how})`, { exitCode: terminated?.exitCode ?? null });
}

/** Why a runner container will never start, or undefined while it may. */
export function cannotStart(status: V1ContainerStatus | undefined): string | undefined {
  const waiting = status?.state?.waiting;
  if (!waiting?.reason || !CANNOT_START.has(waiting.reason)) return undefined;
  return `the runner pod cannot start: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}`;
}

/** What a read answers, or undefined when the object is not there (404). */
export async function unlessMissing<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return undefined;
    throw error;
  }
}

/**
 * A run's object (its Job, its TestRun) created, or the one a former attempt created found
 * (`adopted`): one per run, even when two attempts create it at once (409).
 */
export async function createOrAdopt<T>(
  read: () => Promise<T | undefined>,
  create: () => Promise<T>,
): Promise<{ owner: T | undefined; adopted: boolean }> {
  const found = await read();
  if (found) return { owner: found, adopted: true };
  try {
    return { owner: await create(), adopted: false };
  } catch (error) {
    if (!(error instanceof ApiException && error.code === 409)) throw error;
    return { owner: await read(), adopted: true };
  }
}

/** A call whose object is already gone (404) or already there (409) has done its work. */
export function unlessAlready(code: 404 | 409) {
  return (error: unknown) => {
    if (!(error instanceof ApiException && error.code === code)) throw error;
  };
}

/**
 * A run in runner pods, from its start: its limit, when to give up on pods that never
 * start or never end (`overdue`: k6 stops itself at its limit, and the Job's deadline
 * counts only once its pod runs), and the outcome it ends with when k6 measured nothing
 * (`failed`). k6 Cloud runs are refused (`refused`): they stay on the process runner.
 */
export function podRunOf(k6: RunK6Options) {
  const startedAt = performance.now();
  const limitMs = Math.min(k6.maxDurationMs ?? k6.maxRunDurationMs, k6.maxRunDurationMs);
  const giveUpAt = Date.now() + limitMs + k6.killGraceMs + START_MARGIN_S * 1000;
  const overdue = () => Date.now() > giveUpAt;
  const failed = (problem: string, fields: Partial<RunK6Outcome> = {}) =>
    noResult(
      problem,
      { durationMs: performance.now() - startedAt, maxDurationMs: limitMs },
      fields,
    );
  const refused = k6.command
    ? failed("", { spawnError: "k6 Cloud runs need K6_RUNNER=process" })
    : undefined;
  return { limitMs, overdue, failed, refused };
}

/**
 * A run stopped by its signal: cancelled, its pods go (`remove`); going on in another
 * attempt (handed back, or taken up already), they keep running for it to adopt.
 */
export async function stoppedRun(
  identity: RunnerRun,
  remove: () => Promise<unknown>,
  failed: ReturnType<typeof podRunOf>["failed"],
): Promise<RunK6Outcome> {
  const elsewhere = identity.goesOnElsewhere();
  if (!elsewhere) await remove();
  return failed(
    `the run was stopped (${elsewhere ? "it goes on in another attempt" : "cancelled"})`,
    { cancelled: true },
  );
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
