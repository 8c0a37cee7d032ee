import { setTimeout as delay } from "node:timers/promises";
import {
  ApiException,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1OwnerReference,
  type V1Pod,
} from "@kubernetes/client-node";
import type { Logger } from "@k6-gate/shared";
import { RUNNER_CONTAINER } from "../job/job-spec";
import {
  apiOptions as options,
  cannotStart,
  noResult,
  POLL_MS,
  readRunnerTemplate,
  START_MARGIN_S,
  unlessAlready,
  type RunnerPodsConfig,
} from "../job/runner-pod";
import { mergeOutcomes } from "../k6/merge-outcomes";
import { outcomeOfPodLog } from "../k6/pod-result";
import type { RunK6Options, RunK6Outcome } from "../k6/run-k6";
import type { K6Runner, RunnerRun } from "../k6/runner";
import { podInputOf } from "../pod/pod-input";
import {
  STARTER_IMAGE_ANNOTATION,
  TESTRUN,
  TESTRUN_POD_LABEL,
  testRunManifests,
  testRunNameOf,
  type TestRun,
} from "./testrun-spec";

/**
 * The k6-operator runner for a check with `parallelism: N` above 1: a TestRun of N runner
 * pods in execution segments, each one pod-run (testrun-spec.ts). The worker reads every
 * runner pod's result line through the API server itself (k6-operator reports no runner's
 * failure) and merges them into one outcome (merge-outcomes.ts). Adoption, cancel and hand
 * back work as the Job runner's: the TestRun is named after the run.
 */
export async function createTestRunRunner(
  kubeConfig: KubeConfig,
  config: RunnerPodsConfig,
  logger: Logger,
): Promise<K6Runner> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const batch = kubeConfig.makeApiClient(BatchV1Api);
  const { namespace } = config;
  const { metadata, template } = await readRunnerTemplate(kubeConfig, config);
  const starterImage = metadata?.annotations?.[STARTER_IMAGE_ANNOTATION];
  const at = { ...TESTRUN, namespace };

  const readTestRun = async (name: string): Promise<TestRun | undefined> => {
    try {
      return (await custom.getNamespacedCustomObject({ ...at, name }, options)) as TestRun;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  };
  // Its runner Jobs (and their pods, Services, the starter) are owned by it and follow.
  const deleteTestRun = (name: string) =>
    custom
      .deleteNamespacedCustomObject({ ...at, name, propagationPolicy: "Background" }, options)
      .catch(unlessAlready(404));

  /** Creates the run's TestRun or adopts a former attempt's, then its ConfigMap and Secret. */
  const startOrAdopt = async (k6: RunK6Options, name: string, parallelism: number) => {
    const { testRun, configMap, secret } = testRunManifests({
      name,
      namespace,
      template,
      starterImage,
      input: podInputOf(k6),
      parallelism,
    });
    let adopted = false;
    let owner = await readTestRun(name);
    if (owner) adopted = true;
    else {
      try {
        owner = (await custom.createNamespacedCustomObject(
          { ...at, body: testRun },
          options,
        )) as TestRun;
      } catch (error) {
        // Another attempt of the same run created it meanwhile.
        if (!(error instanceof ApiException && error.code === 409)) throw error;
        adopted = true;
        owner = await readTestRun(name);
      }
    }
    // Owned by the TestRun, so they go with it. Its pods wait for them to mount.
    const ownerReferences: V1OwnerReference[] = [
      {
        apiVersion: testRun.apiVersion,
        kind: "TestRun",
        name,
        uid: owner?.metadata.uid ?? "",
        blockOwnerDeletion: true,
      },
    ];
    configMap.metadata = { ...configMap.metadata, ownerReferences };
    secret.metadata = { ...secret.metadata, ownerReferences };
    await core
      .createNamespacedConfigMap({ namespace, body: configMap }, options)
      .catch(unlessAlready(409));
    await core
      .createNamespacedSecret({ namespace, body: secret }, options)
      .catch(unlessAlready(409));
    return { adopted };
  };

  const runnerPodsOf = async (name: string): Promise<V1Pod[]> => {
    const pods = await core.listNamespacedPod(
      { namespace, labelSelector: `${TESTRUN_POD_LABEL}=${name},runner=true` },
      options,
    );
    return pods.items;
  };
  /**
   * Whether the operator's starter Job failed: the operator never looks at it again, and
   * its paused runners would wait for ever (its `curl` gives up on a refused connection,
   * as when a NetworkPolicy is not in force yet for the new pod).
   */
  const starterFailed = async (name: string): Promise<boolean> => {
    try {
      const job = await batch.readNamespacedJob({ namespace, name: `${name}-starter` }, options);
      return (job.status?.failed ?? 0) > 0;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return false;
      throw error;
    }
  };
  const statusOf = (pod: V1Pod) =>
    pod.status?.containerStatuses?.find((c) => c.name === RUNNER_CONTAINER);

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
    const name = testRunNameOf(identity.runId);
    const { parallelism } = identity;
    const { adopted } = await startOrAdopt(k6, name, parallelism);
    logger.info(
      { runId: identity.runId, testRun: `${namespace}/${name}`, parallelism, adopted },
      adopted ? "TestRun adopted" : "TestRun created",
    );
    // k6 stops itself at its limit; this is for runners that never start or never end.
    const giveUpAt = Date.now() + limitMs + k6.killGraceMs + START_MARGIN_S * 1000;
    let announced = false;
    for (;;) {
      if (k6.signal.aborted) {
        // Leaving: the TestRun keeps running for the next attempt. Cancelled: it goes.
        const leaving = identity.handingBack();
        if (!leaving) await deleteTestRun(name);
        const why = leaving ? "handed back" : "cancelled";
        return failed(`the run was stopped (${why})`, { cancelled: true });
      }
      const pods = await runnerPodsOf(name);
      const ended = pods.filter((pod) => statusOf(pod)?.state?.terminated);
      if (pods.length === parallelism && ended.length === parallelism) {
        const outcomes: RunK6Outcome[] = [];
        for (const pod of pods) {
          const podName = pod.metadata?.name ?? "";
          const log = await core.readNamespacedPodLog(
            { namespace, name: podName, container: RUNNER_CONTAINER },
            options,
          );
          const read = outcomeOfPodLog(log, k6.outputMaxBytes);
          const terminated = statusOf(pod)?.state?.terminated;
          outcomes.push(
            read.ok
              ? read.outcome
              : failed(
                  `runner ${podName}: ${read.problem} (container ${terminated?.reason ?? "ended"}, exit ${terminated?.exitCode})`,
                  { exitCode: terminated?.exitCode ?? null },
                ),
          );
        }
        await deleteTestRun(name);
        return mergeOutcomes(outcomes, k6.outputMaxBytes);
      }
      const never = pods.map((pod) => cannotStart(statusOf(pod))).find(Boolean);
      const testRun = never ? undefined : await readTestRun(name);
      const stage = testRun?.status?.stage;
      const problem = never
        ? { spawnError: never }
        : !testRun
          ? { problem: "the TestRun was deleted by someone else" }
          : stage === "error"
            ? { problem: "k6-operator put the TestRun in stage error (see its events)" }
            : stage === "started" && ended.length === 0 && (await starterFailed(name))
              ? { spawnError: "k6-operator's starter could not resume the runner pods" }
              : Date.now() > giveUpAt
                ? { problem: "the TestRun's runners did not end in time", timedOut: true }
                : undefined;
      if (problem) {
        await deleteTestRun(name);
        const { problem: text = "", ...fields } = problem;
        return failed(text, fields);
      }
      const running = pods.filter((pod) => statusOf(pod)?.state?.running);
      if (!announced && running.length === parallelism) {
        announced = true;
        k6.progress?.started(Date.now(), null);
      }
      await delay(POLL_MS, undefined, { signal: k6.signal }).catch(() => undefined);
    }
  };
  return { kind: "k6-operator", run };
}
