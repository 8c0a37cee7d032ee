import type { SecretRef } from "@k6-gate/shared";

/** Resolves `kubernetes_secrets` references to values at run time, inside the worker. */
export type SecretResolver = (
  refs: Record<string, SecretRef>,
  defaultNamespace: string,
) => Promise<Record<string, string>>;

export class SecretResolutionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

/** For workers without Kubernetes access: any reference is a clear setup failure. */
export const noSecrets: SecretResolver = async (refs) => {
  const names = Object.keys(refs);
  if (names.length === 0) return {};
  throw new SecretResolutionError(
    `kubernetes_secrets given (${names.join(", ")}) but this worker has no Kubernetes access configured`,
  );
};
