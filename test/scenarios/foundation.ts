import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiProcess } from "@k6-gate/testkit/k6gate";
import { k6Wrapper } from "@k6-gate/testkit/k6-wrapper";
import { pidsWhere, realK6Processes } from "@k6-gate/testkit/proc";
import type { RedisUnderTest } from "@k6-gate/testkit/redis-under-test";
import { runsOf } from "@k6-gate/testkit/runs";
import { failingScript, passingScript } from "@k6-gate/testkit/scripts";
import { GateProcesses } from "@k6-gate/testkit/stack";
import { startTarget, type Target } from "@k6-gate/testkit/target";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";

const FAKE_SLACK_TOKEN = "xoxb-worker-secret-must-not-leak";

/**
 * The webhook end to end (one API, one worker, the real k6) on `redis`, which the calling
 * test file starts: test/foundation.test.ts on one redis-server, test/redis/cluster.test.ts
 * on a Redis Cluster, test/all-in-one.test.ts with `allInOne` (both in one process).
 */
export function foundationScenarios(
  redis: () => RedisUnderTest,
  { allInOne = false }: { allInOne?: boolean } = {},
): void {
  let target: Target;
  let api: ApiProcess;
  let gate: GateProcesses | undefined;
  const k6 = k6Wrapper();

  beforeAll(async () => {
    target = await startTarget();
    gate = new GateProcesses(redis().url, redis().env({ K6_BIN: k6.bin }));
    const workerEnv = { SLACK_TOKEN: FAKE_SLACK_TOKEN, MAX_RUN_DURATION: "30s" };
    if (allInOne) api = await gate.startAllInOne(workerEnv);
    else {
      api = await gate.startApi();
      await gate.startWorker(workerEnv);
    }
  });

  afterAll(async () => {
    await gate?.stop();
    await target?.close();
  });

  let checksum = 0;
  const call = (
    metadata: Record<string, string>,
    extra: Partial<Parameters<typeof payloadOf>[0]> = {},
  ) => postWebhook(api.url, payloadOf({ checksum: `rev-${++checksum}`, metadata, ...extra }));

  /** This test's K6_BIN wrapper, while it runs (its path is unique to this test run). */
  const k6ProcessesRunning = () => pidsWhere((argv) => argv.includes(k6.bin));
  /** Real k6 processes whose environment holds `marker`: other test runs may have their own. */
  const k6WithEnv = (marker: string) =>
    realK6Processes().filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(marker);
      } catch {
        return false; // exited meanwhile
      }
    });

  describe("POST /launch-test, end to end with the real k6", () => {
    it("answers 200 when the thresholds hold", async () => {
      const response = await call({ script: passingScript(target.port) });
      expect(response.status).toBe(200);
      expect(response.text).toContain("PASS test/podinfo");
      expect(target.hits.get("/ok")).toBeGreaterThanOrEqual(3);
    });

    it("answers 422 naming the failed threshold and its observed value", async () => {
      const response = await call({ script: failingScript(target.port) });
      expect(response.status).toBe(422);
      expect(response.text).toContain("FAIL test/podinfo (thresholds_failed)");
      expect(response.text).toContain("http_req_failed 'rate<0.01' observed 100.00%");
    });

    it("answers 422 with the exception of a script that throws at init", async () => {
      const response = await call({
        script: "throw new Error('boom at init');\nexport default function () {}",
      });
      expect(response.status).toBe(422);
      expect(response.text).toContain("script_error");
      expect(response.text).toContain("boom at init");
    });

    it("stops a run past its max duration, fails it as a timeout, and leaves no k6 behind", async () => {
      const started = k6.starts();
      const response = await call({
        script:
          "import { sleep } from 'k6';\nexport const options = { iterations: 1 };\nexport default function () { sleep(60); }",
        max_duration: "2s",
      });
      expect(response.status).toBe(422);
      expect(response.text).toContain("(timeout)");
      expect(response.text).toContain("max duration of 2s");
      expect(k6.starts()).toBe(started + 1);
      expect(
        await waitFor("no k6 left", () => k6ProcessesRunning().length === 0, { timeoutMs: 5000 }),
      ).toBe(true);
    });

    it("gives a script its env_vars and none of the worker's variables", async () => {
      const greeting = `hello-${process.pid}-${Date.now()}`;
      const script = `
      import { sleep } from 'k6';
      if (__ENV.GREETING !== '${greeting}') throw new Error('env_vars missing: ' + __ENV.GREETING);
      for (const leaked of ['SLACK_TOKEN', 'REDIS_URL', 'QUEUE_PREFIX']) {
        if (__ENV[leaked] !== undefined) throw new Error('leaked ' + leaked);
      }
      export const options = { iterations: 1 };
      export default function () { sleep(2); }
    `;
      const pending = call({
        script,
        env_vars: JSON.stringify({ GREETING: greeting }),
        wait_timeout: "30s",
      });
      // While it runs, read the real k6 process's environment from outside.
      const pid = await waitFor("k6 to start", () => k6WithEnv(`GREETING=${greeting}`)[0], {
        timeoutMs: 10_000,
      });
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      expect(environ).toContain(`GREETING=${greeting}`);
      expect(environ.join("\n")).not.toContain(FAKE_SLACK_TOKEN);
      expect(environ.some((line) => line.startsWith("REDIS_URL="))).toBe(false);
      const response = await pending;
      expect(response.text).toContain("PASS");
      expect(response.status).toBe(200);
    });

    it("rejects malformed JSON with 400", async () => {
      const response = await postWebhook(api.url, "{not json");
      expect(response.status).toBe(400);
      expect(response.text).toContain("body: not valid JSON");
    });

    it("rejects missing fields with 400 naming each one", async () => {
      const response = await postWebhook(api.url, { phase: "Progressing" });
      expect(response.status).toBe(400);
      expect(response.text).toContain("name:");
      expect(response.text).toContain("namespace:");
      expect(response.text).toContain("metadata:");
    });

    it("rejects bad metadata values with 400 naming every key", async () => {
      const response = await call({
        script: "",
        env_vars: '{"A": 1}',
        wait_for_results: "maybe",
        min_failure_delay: "soon",
        kubernetes_secrets: '{"TOKEN": "not a ref!"}',
      });
      expect(response.status).toBe(400);
      for (const key of [
        "metadata.script",
        "metadata.env_vars",
        "metadata.wait_for_results",
        "metadata.min_failure_delay",
        "metadata.kubernetes_secrets",
      ]) {
        expect(response.text).toContain(key);
      }
      expect(response.text).toContain("A must be a string");
    });

    it("answers 202 at once with wait_for_results false, and the run still completes", async () => {
      const response = await call(
        { script: passingScript(target.port), wait_for_results: "false" },
        { name: "async-canary" },
      );
      expect(response.status).toBe(202);
      const runs = await waitFor("the run to finish", async () => {
        const runs = await runsOf(api.url, "async-canary");
        return runs[0]?.status === "finished" ? runs : undefined;
      });
      expect(runs[0]?.verdict).toBe("pass");
      expect(runs[0]?.delivered).toBe(true);
    });
  });
}
