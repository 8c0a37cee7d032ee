import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";
import { kubernetesSecretResolver } from "../../apps/worker/src/kubernetes-secrets";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { startFakeKubernetes, type FakeKubernetes } from "./fake-kubernetes";
import { runIdIn } from "@k6-gate/testkit/runs";
import { useStack } from "@k6-gate/testkit/use-stack";
import { storedTextOf } from "./redis-view";

const API_TOKEN = `api-token-${randomUUID()}`;
const DB_PASSWORD = `db-password-${randomUUID()}`;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * The script proves it received the values without containing them (it is job data):
 * it compares digests, and fails the run when they differ.
 */
const secretCheckingScript = `
import crypto from 'k6/crypto';
const expect = { API_TOKEN: '${sha256(API_TOKEN)}', DB_PASSWORD: '${sha256(DB_PASSWORD)}' };
for (const [name, digest] of Object.entries(expect)) {
  if (crypto.sha256(__ENV[name] || '', 'hex') !== digest) throw new Error(name + ' is not the secret');
}
export const options = { iterations: 1 };
export default function () {}
`;

let kubernetes: FakeKubernetes;
let dir: string;
const stack = useStack({
  env: { WORKER_METRICS_PORT: "0" },
  workerEnv: async () => {
    kubernetes = await startFakeKubernetes("k8s-worker-token");
    kubernetes.secrets.set("test/podinfo-k6", { token: API_TOKEN });
    kubernetes.secrets.set("shared/database", { password: DB_PASSWORD });
    dir = mkdtempSync(join(tmpdir(), "k6-gate-kube-"));
    return { KUBECONFIG: kubernetes.kubeconfig(dir), SECRET_NAMESPACES: "test|shared" };
  },
});
afterAll(async () => {
  await kubernetes?.close();
  rmSync(dir, { recursive: true, force: true });
});

let checksum = 0;
const call = (kubernetesSecrets: Record<string, string>, script = secretCheckingScript) =>
  postWebhook(
    stack.api.url,
    payloadOf({
      checksum: `kube-${++checksum}`,
      metadata: { script, kubernetes_secrets: JSON.stringify(kubernetesSecrets) },
    }),
  );

describe("kubernetes_secrets, resolved by the worker from the Kubernetes API", () => {
  it("gives the script the secrets' values in __ENV (namespace defaults to the canary's)", async () => {
    const response = await call({
      API_TOKEN: "podinfo-k6/token",
      DB_PASSWORD: "shared/database/password",
    });
    expect(response.text).toMatch(/^k6-gate: PASS .*test\/podinfo/);
    expect(response.status).toBe(200);
    expect(kubernetes.requests).toContain("/api/v1/namespaces/test/secrets/podinfo-k6");
    expect(kubernetes.requests).toContain("/api/v1/namespaces/shared/secrets/database");

    // The values went to k6's environment and nowhere else.
    const runId = runIdIn(response.text);
    const stored = await storedTextOf(stack.redis.url, stack.env.QUEUE_PREFIX ?? "", runId);
    expect(stored.job).toContain("podinfo-k6"); // the reference, not the value
    for (const value of [API_TOKEN, DB_PASSWORD]) {
      expect(stored.job).not.toContain(value);
      expect(stored.record).not.toContain(value);
      expect(stored.output).not.toContain(value);
      expect(stack.worker.output()).not.toContain(value);
      expect(stack.api.output()).not.toContain(value);
    }
  });

  it("fails the run naming namespace/secret/key when the secret does not exist", async () => {
    const response = await call({ API_TOKEN: "no-such-secret/token" });
    expect(response.status).toBe(422);
    expect(response.text).toContain("FAIL test/podinfo (setup_failed)");
    expect(response.text).toContain("API_TOKEN (test/no-such-secret/token): secret not found");
  });

  it("fails the run naming namespace/secret/key when the key does not exist, never the value", async () => {
    const response = await call({ API_TOKEN: "podinfo-k6/no-such-key" });
    expect(response.status).toBe(422);
    expect(response.text).toContain(
      'API_TOKEN (test/podinfo-k6/no-such-key): secret test/podinfo-k6 has no key "no-such-key"',
    );
    expect(response.text).not.toContain(API_TOKEN);
  });

  it("refuses namespaces outside SECRET_NAMESPACES without asking Kubernetes", async () => {
    const response = await call({ API_TOKEN: "kube-system/admin-token/token" });
    expect(response.status).toBe(422);
    expect(response.text).toContain(
      "API_TOKEN (kube-system/admin-token/token): namespace kube-system is not readable by this worker (SECRET_NAMESPACES)",
    );
    expect(kubernetes.requests.some((path) => path.includes("kube-system"))).toBe(false);
  });
});

describe("the resolver against API failures", () => {
  const resolverFor = (token: string) => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubernetes.kubeconfig(mkdtempSync(join(dir, "client-")), token));
    return kubernetesSecretResolver(kubeConfig, { allowedNamespaces: undefined, timeoutMs: 500 });
  };
  const failureOf = (promise: Promise<unknown>) =>
    promise.then(
      () => null,
      (e: unknown) => e,
    );

  it("names a refused read (bad credentials) as a setup failure", async () => {
    const outcome = await resolverFor("wrong-token")({ A: { secret: "s", key: "k" } }, "test");
    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? "" : outcome.problem).toContain(
      "A (test/s/k): the worker may not read it (HTTP 401)",
    );
  });

  it("gives up on a hung API server after its timeout, as a retryable error", async () => {
    kubernetes.hang = true;
    try {
      const error = await failureOf(
        resolverFor("k8s-worker-token")({ A: { secret: "podinfo-k6", key: "token" } }, "test"),
      );
      // Thrown, not refused: an unreachable API is retried like any infrastructure failure.
      expect(error).toBeInstanceOf(Error);
      expect(String(error)).toContain(
        "A (test/podinfo-k6/token): Kubernetes API unreachable: timed out",
      );
    } finally {
      kubernetes.hang = false;
    }
  });
});
