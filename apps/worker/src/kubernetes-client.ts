import { KubeConfig, Observable, type ConfigurationOptions } from "@kubernetes/client-node";

/** Where the worker's Kubernetes credentials come from (kubernetes-access.ts decides). */
export type KubeConfigSource = { kind: "in-cluster" } | { kind: "file"; path: string };

/** The client's configuration; loading this module loads the client (some 70 MB). */
export function kubeConfigOf(source: KubeConfigSource): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (source.kind === "in-cluster") kubeConfig.loadFromCluster();
  else kubeConfig.loadFromFile(source.path);
  return kubeConfig;
}

/** Aborts the request itself after `timeoutMs`, so a hung API server holds no run. */
export function timeoutOptions(timeoutMs: number): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (request) => {
          request.setSignal(AbortSignal.timeout(timeoutMs));
          return new Observable(Promise.resolve(request));
        },
        post: (response) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: "append",
  };
}
