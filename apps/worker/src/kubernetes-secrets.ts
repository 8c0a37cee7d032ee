import { ApiException, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { accepted, refused } from "@k6-gate/shared";
import { kubeConfigOf, timeoutOptions, type KubeConfigSource } from "./kubernetes-client";
import type { SecretResolver } from "./secrets";

/** The resolver for credentials from `source`; loading this module loads the client. */
export function kubernetesSecretResolverFrom(
  source: KubeConfigSource,
  options: KubernetesSecretsOptions,
): SecretResolver {
  return kubernetesSecretResolver(kubeConfigOf(source), options);
}

export interface KubernetesSecretsOptions {
  /** Namespaces whose secrets may be read (whole-name match); undefined = any. */
  allowedNamespaces: RegExp | undefined;
  timeoutMs: number;
}

/**
 * Reads `kubernetes_secrets` with a `get` per secret (no list or watch, so RBAC can name
 * each secret). A missing secret or key, a namespace outside SECRET_NAMESPACES or a refused
 * read fails the run with a message naming namespace/secret/key; values go back to the
 * caller only, never into an error or a log. Other API errors are thrown as plain errors,
 * so the job is retried like any infrastructure failure.
 */
export function kubernetesSecretResolver(
  kubeConfig: KubeConfig,
  options: KubernetesSecretsOptions,
): SecretResolver {
  const api = kubeConfig.makeApiClient(CoreV1Api);

  return async (refs, defaultNamespace) => {
    const wanted = Object.entries(refs).map(([env, ref]) => {
      const namespace = ref.namespace ?? defaultNamespace;
      const named = `kubernetes_secrets ${env} (${namespace}/${ref.secret}/${ref.key})`;
      return { env, namespace, secret: ref.secret, key: ref.key, named };
    });
    // Every namespace is checked before anything is read.
    const outside = wanted.find(
      ({ namespace }) => options.allowedNamespaces && !options.allowedNamespaces.test(namespace),
    );
    if (outside) {
      return refused(
        `${outside.named}: namespace ${outside.namespace} is not readable by this worker (SECRET_NAMESPACES)`,
      );
    }
    const values: Record<string, string> = {};
    // One read per secret, however many of its keys are used.
    const secrets = new Map<string, Record<string, string>>();
    for (const { env, namespace, secret, key, named } of wanted) {
      const id = `${namespace}/${secret}`;
      let data = secrets.get(id);
      if (!data) {
        try {
          const read = await api.readNamespacedSecret(
            { namespace, name: secret },
            timeoutOptions(options.timeoutMs),
          );
          data = read.data ?? {};
        } catch (error) {
          const failure = readFailure(error, named, namespace);
          if (typeof failure === "string") return refused(failure);
          throw failure;
        }
        secrets.set(id, data);
      }
      const encoded = data[key];
      if (encoded === undefined) return refused(`${named}: secret ${id} has no key "${key}"`);
      values[env] = Buffer.from(encoded, "base64").toString("utf8");
    }
    return accepted(values);
  };
}

/**
 * A failed read in words, with the status only: the API's body and headers are never
 * passed on, so nothing it returns reaches a verdict or a log unread. A refusal (missing,
 * forbidden) is a string for the verdict; anything else an Error, so the job is retried.
 */
function readFailure(error: unknown, named: string, namespace: string): string | Error {
  if (error instanceof ApiException) {
    const { code } = error;
    if (code === 404) return `${named}: secret not found`;
    if (code === 401 || code === 403) {
      return `${named}: the worker may not read it (HTTP ${code}); its service account needs "get" on secrets in namespace ${namespace}`;
    }
    return new Error(`${named}: Kubernetes API answered HTTP ${code}`);
  }
  const reason =
    error instanceof Error && error.name === "AbortError"
      ? "timed out"
      : error instanceof Error
        ? error.message
        : String(error);
  return new Error(`${named}: Kubernetes API unreachable: ${reason}`);
}
