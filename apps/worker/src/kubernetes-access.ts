import { existsSync } from "node:fs";
import { accepted } from "@k6-gate/shared";
import type { WorkerConfig } from "./config";
import type { KubeConfigSource } from "./kubernetes-client";
import type { SecretResolver } from "./secrets";

/**
 * Bound on each Kubernetes API call reading a secret: a healthy API server answers in
 * milliseconds, and a run waiting longer should fail its attempt and say why.
 */
const KUBERNETES_TIMEOUT_MS = 10_000;

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/**
 * The resolver for this worker, per KUBERNETES_CLIENT: `auto` uses the kubeconfig at
 * KUBECONFIG, else the in-cluster service account; `in-cluster` requires the latter;
 * `none` (or `auto` with neither) gives undefined: no Kubernetes access. The choice is made
 * (and a wrong one refused) at start; the client itself, some 70 MB of memory, is loaded
 * by the first run that references a secret.
 */
export function kubernetesSecretsFor(
  config: Pick<WorkerConfig, "KUBECONFIG" | "KUBERNETES_CLIENT" | "SECRET_NAMESPACES">,
): SecretResolver | undefined {
  const source = kubeConfigSource(config);
  if (!source) return undefined;
  const options = {
    allowedNamespaces: config.SECRET_NAMESPACES,
    timeoutMs: KUBERNETES_TIMEOUT_MS,
  };
  let resolver: Promise<SecretResolver> | undefined;
  const load = async () =>
    (await import("./kubernetes-secrets")).kubernetesSecretResolverFrom(source, options);
  return async (refs, defaultNamespace) => {
    if (Object.keys(refs).length === 0) return accepted({});
    // A failed load (an unreadable kubeconfig) fails this run's attempt, not every later one.
    resolver ??= load().catch((error: unknown) => {
      resolver = undefined;
      throw error;
    });
    return (await resolver)(refs, defaultNamespace);
  };
}

export function kubeConfigSource(
  config: Pick<WorkerConfig, "KUBECONFIG" | "KUBERNETES_CLIENT">,
): KubeConfigSource | undefined {
  if (config.KUBERNETES_CLIENT === "none") return undefined;
  const inCluster =
    Boolean(process.env.KUBERNETES_SERVICE_HOST) && existsSync(SERVICE_ACCOUNT_TOKEN);
  if (config.KUBERNETES_CLIENT === "in-cluster") {
    if (!inCluster) {
      throw new Error(
        "KUBERNETES_CLIENT is in-cluster but this worker has no service account token (not in a pod?)",
      );
    }
    return { kind: "in-cluster" };
  }
  if (config.KUBECONFIG) {
    if (!existsSync(config.KUBECONFIG))
      throw new Error(`KUBECONFIG ${config.KUBECONFIG}: no such file`);
    return { kind: "file", path: config.KUBECONFIG };
  }
  return inCluster ? { kind: "in-cluster" } : undefined;
}
