import { setTimeout as delay } from "node:timers/promises";
import {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1OwnerReference,
  type V1Pod,
} from "@kubernetes/client-node";
import type { Logger } from "@k6-gate/shared";
import {
  apiOptions as options,
  createOrAdopt,
  cannotStart,
  podRunOf,
  podOutcome,
  POLL_MS,
  readRunnerTemplate,
  runnerStatusOf,
  stoppedRun,
  unlessAlready,
  unlessMissing,
  type RunnerPodsConfig,
} from "../job/runner-pod";
import { mergeOutcomes } from "../k6/merge-outcomes";
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

  const readTestRun = (name: string) =>
    unlessMissing(custom.getNamespacedCustomObject({ ...at, name }, options) as Promise<TestRun>);
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
    const { owner, adopted } = await createOrAdopt(
      () => readTestRun(name),
      () =>
        custom.createNamespacedCustomObject({ ...at, body: testRun }, options) as Promise<TestRun>,
    );
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
   * How the operator's starter Job did. Failed, the operator never looks at it again, and
   * its paused runners would wait for ever (its `curl` gives up on a refused connection,
   * as when a NetworkPolicy is not in force yet for the new pod).
   */
  const starterOf = async (name: string): Promise<"failed" | "succeeded" | "pending"> => {
    const starter = await unlessMissing(
      batch.readNamespacedJob({ namespace, name: `${name}-starter` }, options),
    );
    if ((starter?.status?.failed ?? 0) > 0) return "failed";
    return (starter?.status?.succeeded ?? 0) > 0 ? "succeeded" : "pending";
  };

  const run = async (k6: RunK6Options, identity: RunnerRun): Promise<RunK6Outcome> => {
    const { overdue, failed, refused } = podRunOf(k6);
    if (refused) return refused;
    const name = testRunNameOf(identity.runId);
    const { parallelism } = identity;
    const { adopted } = await startOrAdopt(k6, name, parallelism);
    logger.info(
      { runId: identity.runId, testRun: `${namespace}/${name}`, parallelism, adopted },
      adopted ? "TestRun adopted" : "TestRun created",
    );
    let announced = false;
    let resumed = false; // the starter succeeded: nothing more to read of it
    for (;;) {
      if (k6.signal.aborted) return stoppedRun(identity, () => deleteTestRun(name), failed);
      const pods = await runnerPodsOf(name);
      const ended = pods.filter((pod) => runnerStatusOf(pod)?.state?.terminated);
      if (pods.length === parallelism && ended.length === parallelism) {
        const outcomes: RunK6Outcome[] = [];
        for (const pod of pods)
          outcomes.push(await podOutcome(core, pod, k6.outputMaxBytes, failed));
        // Taken up by another attempt meanwhile: its TestRun, for it to read.
        if (!identity.goesOnElsewhere()) await deleteTestRun(name);
        return mergeOutcomes(outcomes, k6.outputMaxBytes);
      }
      const never = pods.map((pod) => cannotStart(runnerStatusOf(pod))).find(Boolean);
      const testRun = never ? undefined : await readTestRun(name);
      const stage = testRun?.status?.stage;
      const starter: Awaited<ReturnType<typeof starterOf>> | undefined =
        stage === "started" && ended.length === 0 && !resumed ? await starterOf(name) : undefined;
      resumed ||= starter === "succeeded";
      const problem = never
        ? { spawnError: never }
        : !testRun
          ? { problem: "the TestRun was deleted by someone else" }
          : stage === "error"
            ? { problem: "k6-operator put the TestRun in stage error (see its events)" }
            : starter === "failed"
              ? { spawnError: "k6-operator's starter could not resume the runner pods" }
              : overdue()
                ? { problem: "the TestRun's runners did not end in time", timedOut: true }
                : undefined;
      if (problem) {
        await deleteTestRun(name);
        const { problem: text = "", ...fields } = problem;
        return failed(text, fields);
      }
      const running = pods.filter((pod) => runnerStatusOf(pod)?.state?.running);
      if (!announced && running.length === parallelism) {
        announced = true;
        k6.progress?.started(Date.now(), null);
      }
      await delay(POLL_MS, undefined, { signal: k6.signal }).catch(() => undefined);
    }
  };
  return { kind: "k6-operator", run, discard: (runId) => deleteTestRun(testRunNameOf(runId)) };
}
