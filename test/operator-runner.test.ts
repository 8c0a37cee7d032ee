import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { K6_BIN } from "@k6-gate/testkit/paths";
import { freePort } from "@k6-gate/testkit/ports";
import { specOf } from "@k6-gate/testkit/run-fixtures";
import { startTarget, type Target } from "@k6-gate/testkit/target";
import { waitFor } from "@k6-gate/testkit/wait";
import { loadWorkerConfig, OUTPUT_MAX_BYTES } from "../apps/worker/src/config";
import { mergeOutcomes } from "../apps/worker/src/k6/merge-outcomes";
import { outcomeOfPodLog } from "../apps/worker/src/k6/pod-result";
import type { K6Runner } from "../apps/worker/src/k6/runner";
import { operatorEngineArgs } from "../apps/worker/src/pod/operator-flags";
import { podInputOf } from "../apps/worker/src/pod/pod-input";
import { runInPod } from "../apps/worker/src/pod/run-in-pod";
import { createProcessor } from "../apps/worker/src/processor";
import { noSecrets } from "../apps/worker/src/secrets";

/**
 * The k6-operator runner without Kubernetes (issue 33): a check with `parallelism: 3` run
 * as k6-operator runs a TestRun (one pod-run per runner, each given the command k6-operator
 * v1.5.0 builds for its index: its execution segment, a REST address, `--paused`, tags),
 * each resumed through k6's REST API as the operator's starter does, the runners' result
 * lines merged as the worker merges them. Its verdict is the verdict of the same test run
 * by one k6, including where each runner alone would judge the other way.
 */

let target: Target;
let deadPort: number;
beforeAll(async () => {
  target = await startTarget();
  deadPort = await freePort();
});
afterAll(() => target.close());

/** `k6 run ...` as k6-operator v1.5.0's NewRunnerJob builds it for runner `index` of `total`. */
function operatorCommand(index: number, total: number, port: number): string[] {
  const part = (i: number) => (i === 0 ? "0" : i === total ? "1" : `${i}/${total}`);
  const sequence = ["0", ...Array.from({ length: total - 1 }, (_, i) => `${i + 1}/${total}`), "1"];
  return [
    "run",
    "--quiet",
    `--execution-segment=${part(index - 1)}:${part(index)}`,
    `--execution-segment-sequence=${sequence.join(",")}`,
    "/test/script.js",
    // The operator's is 0.0.0.0:6565 in the pod; here, each runner its own loopback port.
    `--address=127.0.0.1:${port}`,
    "--paused",
    "--tag",
    `instance_id=${index}`,
    "--tag",
    "testrun_name=k6-gate-tr-test",
  ];
}

/** The starter's call: resume a paused k6 (the body k6-operator's starter sends). */
async function resume(port: number): Promise<void> {
  const url = `http://127.0.0.1:${port}/v1/status`;
  await waitFor(`k6's REST API on ${port}`, () =>
    fetch(url).then(
      (response) => response.ok,
      () => false,
    ),
  );
  const body = { data: { attributes: { paused: false }, id: "default", type: "status" } };
  const response = await fetch(url, {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
}

/** Runners seen by the last split run: each one's segment and its own k6 exit code. */
let lastRunners: { segment: string; exitCode: number | null }[] = [];

const operatorRunner: K6Runner = {
  kind: "k6-operator",
  async run(options, { parallelism }) {
    const input = podInputOf(options);
    const ports = await Promise.all(Array.from({ length: parallelism }, () => freePort()));
    const lines = await Promise.all(
      ports.map(async (port, i) => {
        const engineArgs = operatorEngineArgs(operatorCommand(i + 1, parallelism, port));
        const line = runInPod(input, options.signal, {
          k6Bin: K6_BIN,
          runAs: undefined,
          engineArgs,
        });
        await resume(port);
        return { line: await line, segment: engineArgs[0] ?? "" };
      }),
    );
    const outcomes = lines.map(({ line }) => {
      const read = outcomeOfPodLog(line, OUTPUT_MAX_BYTES);
      if (!read.ok) throw new Error(read.problem);
      return read.outcome;
    });
    lastRunners = outcomes.map((outcome, i) => ({
      segment: lines[i]?.segment ?? "",
      exitCode: outcome.exitCode,
    }));
    return mergeOutcomes(outcomes, OUTPUT_MAX_BYTES);
  },
};

const config = { ...loadWorkerConfig({}), K6_BIN };
let runs = 0;
const judge = (runner: K6Runner | undefined, script: string, url: string, parallelism?: number) =>
  createProcessor({ config, pdeathsig: true, resolveSecrets: noSecrets, runner })(
    {
      runId: `operator-${++runs}`,
      ...specOf({ namespace: "test", name: "podinfo", checksum: `rev-${runs}`, script }),
      envVars: { TARGET: url },
      parallelism,
    },
    { signal: new AbortController().signal },
  );

const script = (thresholds: string) => `
import http from 'k6/http';
export const options = {
  scenarios: { load: { executor: 'shared-iterations', vus: 3, iterations: 30 } },
  thresholds: ${thresholds},
};
export default function () { http.get(__ENV.TARGET); }
`;

describe("a check split over 3 runners is judged as the same test in one k6 (real k6)", () => {
  it.each([
    // Each runner makes 10 iterations: alone, each would fail this (exit 99).
    ["a count the whole test reaches", "/ok", `{ iterations: ['count>=25'] }`, 99, "pass"],
    // Alone, each would pass this (10 < 15); the test made 30.
    ["a count only the whole test crosses", "/ok", `{ http_reqs: ['count<15'] }`, 0, "fail"],
    // A Counter's rate is approximated on the merged stream; no runner's pass hides it.
    ["a Counter rate no part reaches", "/ok", `{ http_reqs: ['rate>100000'] }`, 99, "fail"],
    ["a target answering 500", "/fail", `{ http_req_failed: ['rate<0.1'] }`, 99, "fail"],
    // Numbers as k6 reads them (Go's ParseFloat), not only as JSON writes them.
    ["a bound written +15", "/ok", `{ http_reqs: ['count<+15'] }`, 0, "fail"],
    ["a dead canary, p(95)<300", null, `{ http_req_duration: ['p(95)<300'] }`, 0, "fail"],
  ])("%s", async (_name, path, thresholds, runnerExit, verdict) => {
    const url = path ? `${target.url}${path}` : `http://127.0.0.1:${deadPort}/`;
    const whole = await judge(undefined, script(thresholds), url);
    const split = await judge(operatorRunner, script(thresholds), url, 3);
    expect(lastRunners).toEqual([
      { segment: "--execution-segment=0:1/3", exitCode: runnerExit },
      { segment: "--execution-segment=1/3:2/3", exitCode: runnerExit },
      { segment: "--execution-segment=2/3:1", exitCode: runnerExit },
    ]);
    expect(whole.result.verdict).toBe(verdict);
    expect(split.result).toMatchObject({
      verdict,
      outcome: whole.result.outcome,
      reason: whole.result.reason,
    });
    const judged = (thresholds: typeof whole.result.thresholds) =>
      thresholds.map(({ metric, expression, ok }) => ({ metric, expression, ok }));
    expect(judged(split.result.thresholds)).toEqual(judged(whole.result.thresholds));
    expect(split.result.metrics.iterations).toBe(whole.result.metrics.iterations);
    expect(split.output).toContain("[k6-gate: runner 3 of 3]");
  });
});

describe("a threshold k6-gate cannot evaluate, split over 3 runners", () => {
  it("is not passed: each runner's k6 crossed it, and no k6 judged the whole test", async () => {
    // k6 reads a hex float (8); k6-gate does not. One k6 fails its 30 on its exit code.
    const thresholds = `{ http_reqs: ['count<0x1p3'] }`;
    const url = `${target.url}/ok`;
    const whole = await judge(undefined, script(thresholds), url);
    expect(whole.result).toMatchObject({ verdict: "fail", outcome: "thresholds_failed" });
    const split = await judge(operatorRunner, script(thresholds), url, 3);
    expect(lastRunners.map((runner) => runner.exitCode)).toEqual([99, 99, 99]);
    expect(split.result.verdict).toBe("fail");
    expect(split.result.reason).toContain(
      "threshold http_reqs 'count<0x1p3' cannot be judged on the 3 runners' merged metrics",
    );
  });
});

describe("parallelism on a worker without the k6-operator runner", () => {
  it("fails the run as setup_failed, naming the key and the runner it needs", async () => {
    const { result } = await judge(undefined, script("{}"), `${target.url}/ok`, 3);
    expect(result).toMatchObject({ verdict: "fail", outcome: "setup_failed" });
    expect(result.reason).toContain('metadata parallelism "3" needs the k6-operator runner');
    expect(result.reason).toContain("this worker's runner is process");
  });
});

describe("k6-operator's runner command", () => {
  it("keeps its segment, address, --paused and tags, and drops the rest", () => {
    expect(operatorEngineArgs(operatorCommand(2, 3, 6565))).toEqual([
      "--execution-segment=1/3:2/3",
      "--execution-segment-sequence=0,1/3,2/3,1",
      "--address=127.0.0.1:6565",
      "--paused",
      "--tag=instance_id=2",
      "--tag=testrun_name=k6-gate-tr-test",
    ]);
  });

  it("refuses a flag or value it does not know: the operator's command changed", () => {
    expect(() => operatorEngineArgs(["run", "--out", "json=/tmp/x", "s.js"])).toThrow(
      "k6-operator's flag --out is not one pod-run knows",
    );
    expect(() => operatorEngineArgs(["run", "--tag", "a=$(id)"])).toThrow(
      "k6-operator's --tag has an unexpected value",
    );
    expect(() => operatorEngineArgs(["archive", "s.js"])).toThrow('expected "k6 run ..."');
  });
});
