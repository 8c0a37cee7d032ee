import { describe, expect, it } from "vitest";
import type { RunJob } from "@k6-gate/shared";
import { loadWorkerConfig } from "../../apps/worker/src/config";
import { prepareCloudRun } from "../../apps/worker/src/k6/cloud";
import { verdictOf } from "../../apps/worker/src/k6/verdict";
import { createProcessor } from "../../apps/worker/src/processor";
import { noSecrets } from "../../apps/worker/src/secrets";

const account = {
  K6_CLOUD_TOKEN: "cloud-token",
  K6_CLOUD_STACK_ID: "4242",
  K6_CLOUD_PROJECT_ID: "77",
  K6_CLOUD_HOST: "https://api.k6.example",
};

describe("prepareCloudRun", () => {
  it("runs `k6 cloud run --local-execution` with the account in a private config file", () => {
    const prepared = prepareCloudRun(account, ["TARGET", "K6_CLOUD_NAME", "K6_CLOUD_PROJECT_ID"]);
    if (!prepared.ok) throw new Error(prepared.problem);
    const run = prepared.value;
    expect(run.command).toEqual([
      "cloud",
      "run",
      "--local-execution",
      "--include-system-env-vars",
      "--no-archive-upload",
      "--config",
      "k6-cloud.json",
    ]);
    expect(JSON.parse(run.files["k6-cloud.json"] ?? "")).toEqual({
      collectors: {
        cloud: {
          token: "cloud-token",
          stackID: 4242,
          defaultProjectID: 77,
          hostv6: "https://api.k6.example",
        },
      },
    });
  });

  const problemOf = (prepared: ReturnType<typeof prepareCloudRun>) =>
    prepared.ok ? "" : prepared.problem;

  it("says plainly what the worker lacks", () => {
    expect(problemOf(prepareCloudRun({ ...account, K6_CLOUD_TOKEN: undefined }, []))).toBe(
      "upload_to_cloud is true but the worker has no K6_CLOUD_TOKEN configured",
    );
    expect(problemOf(prepareCloudRun({ ...account, K6_CLOUD_STACK_ID: undefined }, []))).toContain(
      "no K6_CLOUD_STACK_ID configured",
    );
  });

  it("refuses canary variables that would redirect or replace the account", () => {
    for (const name of [
      "K6_CLOUD_HOST",
      "K6_CLOUD_HOST_V6",
      "K6_CLOUD_STACK_ID",
      "K6_CLOUD_PUSH_REF_ID",
    ]) {
      expect(problemOf(prepareCloudRun(account, ["TARGET", name]))).toContain(
        `${name} cannot be set`,
      );
    }
  });
});

describe("a run with upload_to_cloud on a worker without a cloud token", () => {
  it("fails before k6 starts, saying so", async () => {
    const processRun = createProcessor({
      config: { ...loadWorkerConfig({}), K6_BIN: "/nonexistent/k6" },
      pdeathsig: false,
      resolveSecrets: noSecrets,
    });
    const job: RunJob = {
      runId: "kabc-1",
      runKey: "kabc",
      namespace: "test",
      name: "podinfo",
      checksum: "rev1",
      phase: "Progressing",
      script: "export default function () {}",
      envVars: {},
      kubernetesSecrets: {},
      uploadToCloud: true,
      slackChannels: [],
    };
    const { result } = await processRun(job, { signal: new AbortController().signal });
    expect(result.verdict).toBe("fail");
    expect(result.outcome).toBe("setup_failed");
    expect(result.reason).toBe(
      "upload_to_cloud is true but the worker has no K6_CLOUD_TOKEN configured",
    );
  });
});

describe("the verdict of a cloud run k6 could not create", () => {
  const exit = {
    exitCode: 255,
    signal: null,
    timedOut: false,
    maxDurationMs: 60_000,
    scriptDurationMs: null,
    durationMs: 40,
    findings: undefined,
    interruptedIterations: 0,
    firstInterruption: null,
    maxInterruptedIterations: 0,
    cloudUrl: null,
    cloudRequested: true,
  };

  it("names the cloud problem instead of blaming the script", () => {
    const result = verdictOf({
      ...exit,
      lastError:
        'could not create the cloud test run: create or find load test: Post "https://api.k6.io/cloud/v6/projects/77/load_tests": dial tcp: lookup api.k6.io: no such host',
    });
    expect(result.outcome).toBe("setup_failed");
    expect(result.reason).toMatch(
      /^k6 Cloud upload failed, so the test did not run: could not create the cloud test run: .*no such host$/,
    );
  });

  it("keeps the script's own error when the cloud is not the problem", () => {
    const result = verdictOf({
      ...exit,
      exitCode: 107,
      lastError: "ReferenceError: x is not defined",
    });
    expect(result.outcome).toBe("script_error");
    expect(result.reason).toContain("ReferenceError");
  });
});
