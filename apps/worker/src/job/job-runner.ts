import { setTimeout as delay } from "node:timers/promises";
import {
  ApiException,
  BatchV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Job,
  type V1Pod,
} from "@kubernetes/client-node";
import type { Logger } from "@k6-gate/shared";
import { outcomeOfPodLog } from "../k6/pod-result";
import type { RunK6Options, RunK6Outcome } from "../k6/run-k6";
import type { K6Runner, RunnerRun } from "../k6/runner";
import { podInputOf } from "../pod/pod-input";
import { jobManifests, jobNameOf, RUNNER_CONTAINER } from "./job-spec";
import {
  apiOptions as options,
  cannotStart,
  noResult,
  POLL_MS,
  readRunnerTemplate,
  STOP_MARGIN_S,
  unlessAlready,
  type RunnerPodsConfig,
} from "./runner-pod";

/**
 * The Job runner (K6_RUNNER=job:<namespace>/<podtemplate>): each run's k6 in a Job of its
 * own, from the chart's PodTemplate. Reads the PodTemplate at once, so a worker that
 * cannot start runner pods fails its start with the reason.
 */
export async function createJobRunner(
  kubeConfig: KubeConfig,
  config: RunnerPodsConfig,
  logger: Logger,
): Promise<K6Runner> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const batch = kubeConfig.makeApiClient(BatchV1Api);
  const { namespace } = config;
  const { template: runnerTemplate } = await readRunnerTemplate(kubeConfig, config);

  const readJob = async (name: string): Promise<V1Job | undefined> => {
    try {
      return await batch.readNamespacedJob({ namespace, name }, options);
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  };
  const deleteJob = (name: string) =>
    batch
      .deleteNamespacedJob({ namespace, name, propagationPolicy: "Background" }, options)
      .catch(unlessAlready(404));

  /**
   * Creates the run's Job, or finds the one a former attempt created (one k6 per run),
   * and its Secret when missing (a worker that died between the two left none).
   */
  const startOrAdopt = async (k6: RunK6Options, name: string, limitMs: number) => {
    const { job, secret } = jobManifests({
      name,
      namespace,
      template: runnerTemplate,
      input: podInputOf(k6),
      limitSeconds: Math.ceil((limitMs + k6.killGraceMs) / 1000),
      stopGraceSeconds: Math.ceil(k6.killGraceMs / 1000) + STOP_MARGIN_S,
    });
    let adopted = false;
    let owner = await readJob(name);
    if (owner) adopted = true;
    else {
      try {
        owner = await batch.createNamespacedJob({ namespace, body: job }, options);
      } catch (error) {
        // Another attempt of the same run created it meanwhile.
        if (!(error instanceof ApiException && error.code === 409)) throw error;
        adopted = true;
        owner = await readJob(name);
      }
    }
    // Owned by the Job, so it goes with it. The pod waits for it to mount its volume.
    secret.metadata = {
      ...secret.metadata,
      ownerReferences: [
        {
          apiVersion: "batch/v1",
          kind: "Job",
          name,
          uid: owner?.metadata?.uid ?? "",
          blockOwnerDeletion: true,
        },
      ],
    };
    await core
      .createNamespacedSecret({ namespace, body: secret }, options)
      .catch(unlessAlready(409));
    return { adopted };
  };

  const podOf = async (name: string): Promise<V1Pod | undefined> => {
    const pods = await core.listNamespacedPod(
      { namespace, labelSelector: `batch.kubernetes.io/job-name=${name}` },
      options,
    );
    return pods.items[0];
  };

  const run = async (k6: RunK6Options, identity: RunnerRun): Promise<RunK6Outcome> => {
    const startedAt = performance.now();
    const limitMs = Math.min(k6.maxDurationMs ?? k6.maxRunDurationMs, k6.maxRunDurationMs);
    const failed = (problem: string, fields: Partial<RunK6Outcome> = {}) =>
      noResult(
        problem,
        { durationMs: performance.now() - startedAt, maxDurationMs: limitMs },
        fields,
      );
    if (k6.command) return failed("", { spawnError: "k6 Cloud runs need K6_RUNNER=process" });
    const name = jobNameOf(identity.runId);
    const { adopted } = await startOrAdopt(k6, name, limitMs);
    logger.info(
      { runId: identity.runId, job: `${namespace}/${name}`, adopted },
      adopted ? "runner Job adopted" : "runner Job created",
    );
    let announced = false;
    for (;;) {
      if (k6.signal.aborted) {
        // Leaving: the Job keeps running for the next attempt. Cancelled: it goes.
        const leaving = identity.handingBack();
        if (!leaving) await deleteJob(name);
        const why = leaving ? "handed back" : "cancelled";
        return failed(`the run was stopped (${why})`, { cancelled: true });
      }
      const pod = await podOf(name);
      const status = pod?.status?.containerStatuses?.find((c) => c.name === RUNNER_CONTAINER);
      const terminated = status?.state?.terminated;
      if (pod && terminated) {
        const log = await core.readNamespacedPodLog(
          { namespace, name: pod.metadata?.name ?? "", container: RUNNER_CONTAINER },
          options,
        );
        await deleteJob(name);
        const read = outcomeOfPodLog(log, k6.outputMaxBytes);
        if (read.ok) return read.outcome;
        const how = `container ${terminated.reason ?? "ended"}, exit ${terminated.exitCode}`;
        return failed(`${read.problem} (${how})`, { exitCode: terminated.exitCode });
      }
      const never = cannotStart(status);
      if (never) {
        await deleteJob(name);
        return failed("", { spawnError: never });
      }
      if (status?.state?.running && !announced) {
        announced = true;
        const since = Date.parse(String(status.state.running.startedAt ?? ""));
        k6.progress?.started(Number.isFinite(since) ? since : Date.now(), null);
      }
      if (!pod) {
        // No pod (yet, or any more): the Job says whether one is still to come.
        const job = await readJob(name);
        const failedCondition = job?.status?.conditions?.find(
          (c) => c.type === "Failed" && c.status === "True",
        );
        if (!job || failedCondition) {
          await deleteJob(name);
          return failed(
            job
              ? `the runner Job failed: ${failedCondition?.reason ?? "no reason given"}`
              : "the runner Job was deleted by someone else",
            { timedOut: failedCondition?.reason === "DeadlineExceeded" },
          );
        }
      }
      await delay(POLL_MS, undefined, { signal: k6.signal }).catch(() => undefined);
    }
  };
  return { kind: "job", run };
}
