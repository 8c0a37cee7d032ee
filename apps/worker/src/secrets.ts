import { refused, accepted, type Checked, type SecretRef } from "@k6-gate/shared";

/**
 * Resolves `kubernetes_secrets` references to values at run time, inside the worker. A
 * reference that cannot be honoured (missing, refused) is a refusal naming it; an API that
 * cannot be reached is thrown, so the job is retried.
 */
export type SecretResolver = (
  refs: Record<string, SecretRef>,
  defaultNamespace: string,
) => Promise<Checked<Record<string, string>>>;

/** For workers without Kubernetes access: any reference is a clear setup failure. */
export const noSecrets: SecretResolver = async (refs) => {
  const names = Object.keys(refs);
  if (names.length === 0) return accepted({});
  return refused(
    `kubernetes_secrets given (${names.join(", ")}) but this worker has no Kubernetes access configured`,
  );
};
