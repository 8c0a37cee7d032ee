import type { V1PodTemplateSpec } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { RUN_LABEL } from "../../apps/worker/src/job/job-spec";
import { testRunManifests, testRunNameOf } from "../../apps/worker/src/operator/testrun-spec";

/** The k6-operator runner's objects (issue 33): a TestRun of pod-run pods, and the names. */

const input = {
  script: "export default function () {}",
  env: { TARGET: "http://podinfo.test:9898/", API_KEY: "s3cret" },
  maxDurationMs: null,
  maxRunDurationMs: 600_000,
  statKeys: [],
};
const template: V1PodTemplateSpec = {
  metadata: { labels: { "app.kubernetes.io/instance": "k6-gate", team: "a" } },
  spec: {
    automountServiceAccountToken: true,
    securityContext: { runAsUser: 0 },
    containers: [
      {
        name: "k6",
        image: "k6-gate:1.0.0",
        imagePullPolicy: "Never",
        resources: { limits: { cpu: "1" } },
        securityContext: { capabilities: { drop: ["ALL"] } },
      },
    ],
    volumes: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
  },
};
const IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const name = testRunNameOf("kabc-1");
const { testRun, configMap, secret } = testRunManifests({
  name,
  namespace: "runners",
  template,
  starterImage: "k6gate.local/k6-operator-starter:e2e",
  input,
  parallelism: 3,
});
const spec = testRun.spec as Record<string, Record<string, unknown>>;

describe("a run's TestRun", () => {
  it("is named after its run (a letter first, short), so a second attempt finds it", () => {
    expect(name).toBe(testRunNameOf("kabc-1"));
    expect(name).not.toBe(testRunNameOf("kabc-2"));
    expect(name).toMatch(/^k6-gate-tr-[0-9a-f]{20}$/);
    expect(testRun.metadata.labels[RUN_LABEL]).toBe(name.slice("k6-gate-tr-".length));
  });

  it("splits the test over `parallelism` runners, with no initializer and no operator cleanup", () => {
    expect(testRun.spec).toMatchObject({
      parallelism: 3,
      initializer: { disabled: true },
      script: { configMap: { name, file: "script.js" } },
    });
    expect(testRun.spec).not.toHaveProperty("cleanup");
  });

  it("runs the PodTemplate's image, resources and security, with no token, pod-run's k6 first on PATH", () => {
    expect(spec.runner).toMatchObject({
      image: "k6-gate:1.0.0",
      imagePullPolicy: "Never",
      resources: { limits: { cpu: "1" } },
      securityContext: { runAsUser: 0 },
      containerSecurityContext: { capabilities: { drop: ["ALL"] } },
      automountServiceAccountToken: "false",
      metadata: {
        labels: {
          "app.kubernetes.io/component": "k6-runner",
          "app.kubernetes.io/instance": "k6-gate",
          team: "a",
        },
      },
    });
    expect(JSON.stringify(spec.runner?.env)).toBe(
      JSON.stringify([{ name: "PATH", value: "/usr/local/lib/k6-gate/k6-operator:" + IMAGE_PATH }]),
    );
    expect(spec.runner?.volumes).toEqual([
      { name: "run", secret: { secretName: name, defaultMode: 0o400 } },
      { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
    ]);
  });

  it("keeps the run's environment out of the TestRun: only its Secret has it", () => {
    expect(JSON.stringify(testRun)).not.toContain("s3cret");
    expect(JSON.stringify(configMap)).not.toContain("s3cret");
    expect(JSON.parse(secret.stringData?.["run.json"] ?? "")).toEqual(input);
    expect(configMap.data?.["script.js"]).toBe(input.script);
  });

  it("labels its starter for the NetworkPolicy that lets it reach the runners only", () => {
    expect(spec.starter).toMatchObject({
      image: "k6gate.local/k6-operator-starter:e2e",
      automountServiceAccountToken: "false",
      metadata: { labels: { "app.kubernetes.io/component": "k6-starter" } },
    });
  });

  it("needs a container named k6 in its template", () => {
    expect(() =>
      testRunManifests({
        name,
        namespace: "runners",
        template: { spec: { containers: [{ name: "main" }] } },
        starterImage: undefined,
        input,
        parallelism: 2,
      }),
    ).toThrow('the runner PodTemplate has no container named "k6"');
  });
});
