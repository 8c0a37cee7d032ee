import type { Logger } from "@k6-gate/shared";
import type { WorkerConfig } from "./config";
import type { K6Runner } from "./k6/runner";
import { kubeConfigSource } from "./kubernetes-access";

/**
 * The worker's runner per K6_RUNNER: undefined for the process runner (the processor's
 * default), else the Job runner, or with k6-operator the Job runner for a one-pod check
 * and a TestRun for a check split over several pods. Their Kubernetes client loads only then.
 */
export async function k6RunnerFor(
  config: Pick<WorkerConfig, "K6_RUNNER" | "KUBECONFIG" | "KUBERNETES_CLIENT">,
  logger: Logger,
): Promise<K6Runner | undefined> {
  const setting = config.K6_RUNNER;
  if (setting.kind === "process") return undefined;
  const source = kubeConfigSource(config);
  if (!source) {
    throw new Error(
      `K6_RUNNER is ${setting.kind} but this worker has no Kubernetes access (KUBECONFIG, or a service account in a pod; KUBERNETES_CLIENT is none?)`,
    );
  }
  const [{ kubeConfigOf }, { createJobRunner }] = await Promise.all([
    import("./kubernetes-client"),
    import("./job/job-runner"),
  ]);
  const kubeConfig = kubeConfigOf(source);
  const onePod = await createJobRunner(kubeConfig, setting, logger);
  if (setting.kind === "job") return onePod;
  const { createTestRunRunner } = await import("./operator/testrun-runner");
  const split = await createTestRunRunner(kubeConfig, setting, logger);
  return {
    kind: "k6-operator",
    run: (options, run) => (run.parallelism > 1 ? split : onePod).run(options, run),
    discard: async (runId) => {
      await Promise.all([onePod.discard?.(runId), split.discard?.(runId)]);
    },
  };
}
