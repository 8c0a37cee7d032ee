import { setTimeout as delay } from "node:timers/promises";
import {
  BatchV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Job,
  type V1Pod,
} from "@kubernetes/client-node";
import type { Logger } from "@k6-gate/shared";
import type { RunK6Options, RunK6Outcome } from "../k6/run-k6";
import type { K6Runner, RunnerRun } from "../k6/runner";
import { podInputOf } from "../pod/pod-input";
import { jobManifests, jobNameOf } from "./job-spec";
import {
  apiOptions as options,
  createOrAdopt,
  cannotStart,
  podRunOf,
  podOutcome,
  POLL_MS,
  readRunnerTemplate,
  runnerStatusOf,
  STOP_MARGIN_S,
  stoppedRun,
  unlessAlready,
  unlessMissing,
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

  const readJob = (name: string): Promise<V1Job | undefined> =>
    unlessMissing(batch.readNamespacedJob({ namespace, name }, options));
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
    const { owner, adopted } = await createOrAdopt(
      () => readJob(name),
      () => batch.createNamespacedJob({ namespace, body: job }, options),
    );
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
    const { limitMs, overdue, failed, refused } = podRunOf(k6);
    if (refused) return refused;
    const name = jobNameOf(identity.runId);
    const { adopted } = await startOrAdopt(k6, name, limitMs);
    logger.info(
      { runId: identity.runId, job: `${namespace}/${name}`, adopted },
      adopted ? "runner Job adopted" : "runner Job created",
    );
    let announced = false;
    for (;;) {
      if (k6.signal.aborted) return stoppedRun(identity, () => deleteJob(name), failed);
      const pod = await podOf(name);
      const status = runnerStatusOf(pod);
      if (pod && status?.state?.terminated) {
        const outcome = await podOutcome(core, pod, k6.outputMaxBytes, failed);
        // Taken up by another attempt meanwhile: its Job, for it to read.
        if (!identity.goesOnElsewhere()) await deleteJob(name);
        return outcome;
      }
      const never = cannotStart(status);
      if (never || overdue()) {
        await deleteJob(name);
        return never
          ? failed("", { spawnError: never })
          : failed("the runner Job's pod did not end in time", { timedOut: true });
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
  return { kind: "job", run, discard: (runId) => deleteJob(jobNameOf(runId)) };
}
