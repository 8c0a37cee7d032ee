import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1PodTemplateSpec } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { createLogger } from "@k6-gate/shared";
import { freePort } from "@k6-gate/testkit/ports";
import { loadWorkerConfig } from "../../apps/worker/src/config";
import { jobManifests, jobNameOf, RUN_LABEL } from "../../apps/worker/src/job/job-spec";
import { k6RunnerFor } from "../../apps/worker/src/runner-choice";

/** The Job runner's objects (issue 33): what a PodTemplate cannot change, and the names. */

const input = {
  script: "export default function () {}",
  env: { TARGET: "http://podinfo.test:9898/" },
  maxDurationMs: null,
  maxRunDurationMs: 600_000,
  statKeys: [],
};

/** A template that asks for everything a runner pod must not have. */
const careless: V1PodTemplateSpec = {
  metadata: { labels: { "app.kubernetes.io/instance": "k6-gate", team: "a" } },
  spec: {
    automountServiceAccountToken: true,
    enableServiceLinks: true,
    hostNetwork: true,
    hostPID: true,
    shareProcessNamespace: true,
    restartPolicy: "Always",
    containers: [{ name: "k6", image: "k6-gate:1.0.0", args: ["worker"] }],
    volumes: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
  },
};

describe("a runner Job", () => {
  const name = jobNameOf("kabc-1");
  const { job, secret } = jobManifests({
    name,
    namespace: "runners",
    template: careless,
    input,
    limitSeconds: 70,
    stopGraceSeconds: 15,
  });
  const pod = job.spec?.template.spec;

  it("is named after its run, so a second attempt finds it", () => {
    expect(name).toBe(jobNameOf("kabc-1"));
    expect(name).not.toBe(jobNameOf("kabc-2"));
    expect(name).toMatch(/^k6-gate-run-[0-9a-f]{20}$/);
    expect(job.metadata?.labels?.[RUN_LABEL]).toBe(name.slice("k6-gate-run-".length));
  });

  it("runs once, within the run's limit, whatever the template says", () => {
    expect(job.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 190 });
    expect(pod).toMatchObject({
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 15,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      hostNetwork: false,
      hostPID: false,
      shareProcessNamespace: false,
    });
    expect(pod?.containers).toHaveLength(1);
    expect(pod?.containers[0]?.args).toEqual(["pod-run"]);
  });

  it("keeps the template's labels (its NetworkPolicy selects them) and its /tmp", () => {
    expect(job.spec?.template.metadata?.labels).toMatchObject({
      "app.kubernetes.io/instance": "k6-gate",
      "app.kubernetes.io/component": "k6-runner",
      team: "a",
    });
    expect(pod?.volumes?.filter((v) => v.name === "tmp")).toEqual([
      { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
    ]);
  });

  it("gets its run from a Secret of its own, readable by the runner only", () => {
    expect(pod?.volumes).toContainEqual({
      name: "run",
      secret: { secretName: name, defaultMode: 0o400 },
    });
    expect(secret.metadata?.name).toBe(name);
    expect(JSON.parse(secret.stringData?.["run.json"] ?? "")).toEqual(input);
  });

  it("needs a container named k6 in its template", () => {
    expect(() =>
      jobManifests({
        name,
        namespace: "runners",
        template: { spec: { containers: [{ name: "main" }] } },
        input,
        limitSeconds: 70,
        stopGraceSeconds: 15,
      }),
    ).toThrow('the runner PodTemplate has no container named "k6"');
  });
});

describe("K6_RUNNER", () => {
  it("is the process runner unless set", () => {
    expect(loadWorkerConfig({}).K6_RUNNER).toEqual({ kind: "process" });
    expect(loadWorkerConfig({ K6_RUNNER: "process" }).K6_RUNNER).toEqual({ kind: "process" });
  });

  it("names the namespace and PodTemplate of the Job runner", () => {
    expect(loadWorkerConfig({ K6_RUNNER: "job:k6-gate/k6-gate-runner" }).K6_RUNNER).toEqual({
      kind: "job",
      namespace: "k6-gate",
      podTemplate: "k6-gate-runner",
    });
  });

  it("names the namespace and PodTemplate of the k6-operator runner", () => {
    expect(loadWorkerConfig({ K6_RUNNER: "k6-operator:runners/k6-gate-runner" }).K6_RUNNER).toEqual(
      { kind: "k6-operator", namespace: "runners", podTemplate: "k6-gate-runner" },
    );
  });

  it("refuses anything else, saying what it takes", () => {
    for (const value of ["job", "job:Runners/x", "pod", "job:ns/", "k6-operator", "operator:a/b"]) {
      expect(() => loadWorkerConfig({ K6_RUNNER: value })).toThrow(
        `K6_RUNNER: "${value}" is not process, job:<namespace>/<podtemplate> or k6-operator:<namespace>/<podtemplate>`,
      );
    }
  });
});

describe("a worker on the Job runner that cannot start runner pods", () => {
  const logger = createLogger("test", "silent");
  const setting = { kind: "job", namespace: "runners", podTemplate: "k6-gate-runner" } as const;

  it("fails its start without Kubernetes access, saying so", async () => {
    await expect(
      k6RunnerFor({ K6_RUNNER: setting, KUBECONFIG: undefined, KUBERNETES_CLIENT: "none" }, logger),
    ).rejects.toThrow("K6_RUNNER is job but this worker has no Kubernetes access");
  });

  it("fails its start when the API server cannot give it the PodTemplate, naming it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "k6-gate-kubeconfig-"));
    const kubeconfig = join(dir, "config");
    // An API server address where nothing listens.
    const server = `https://127.0.0.1:${await freePort()}`;
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server, "insecure-skip-tls-verify": true } }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    );
    try {
      await expect(
        k6RunnerFor(
          { K6_RUNNER: setting, KUBECONFIG: kubeconfig, KUBERNETES_CLIENT: "auto" },
          logger,
        ),
      ).rejects.toThrow(
        /^K6_RUNNER: PodTemplate runners\/k6-gate-runner could not be read: .*ECONNREFUSED/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
