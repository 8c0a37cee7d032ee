import { mkdtempSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { foundationScenarios } from "./scenarios/foundation";
import { callFlagger } from "@k6-gate/testkit/flagger";
import { k6Wrapper } from "@k6-gate/testkit/k6-wrapper";
import { realK6Processes } from "@k6-gate/testkit/proc";
import { onServer } from "@k6-gate/testkit/redis-under-test";
import { runsOf } from "@k6-gate/testkit/runs";
import { sleepingScript } from "@k6-gate/testkit/scripts";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

/**
 * The all-in-one process (apps/all: the API and a worker in one Node process, what small
 * installs run) behaves as the two apart: the end-to-end scenarios of test/foundation.test.ts,
 * Flagger's retries riding on one run, and a process killed or stopped mid-run.
 */
const stack = useStack({ redis: { appendonly: true }, api: false, workers: 0 });

describe("the end-to-end scenarios, on one process", () => {
  foundationScenarios(() => onServer(stack.redis), { allInOne: true });
});

describe("the all-in-one process", () => {
  /** Each test's runs live under its own TMPDIR: its k6 are told apart by cwd. */
  const realK6In = (runTmpDir: string) =>
    realK6Processes().filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/cwd`).startsWith(runTmpDir);
      } catch {
        return false; // exited meanwhile
      }
    });
  const running = (apiUrl: string) => async () => {
    const [run] = await runsOf(apiUrl);
    return run?.status === "running" ? run : undefined;
  };

  it("runs one k6 for concurrent calls of one check, and answers each with its verdict", async () => {
    const k6 = k6Wrapper();
    const all = await stack.testGate({ K6_BIN: k6.bin }).startAllInOne();
    const metadata = { script: sleepingScript(stack.target.port, 2), wait_timeout: "30s" };
    const responses = await Promise.all(
      Array.from({ length: 3 }, () => postWebhook(all.url, payloadOf({ metadata }))),
    );
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200]);
    expect(k6.starts()).toBe(1);
    expect(await runsOf(all.url)).toHaveLength(1);
  });

  it("after kill -9 mid-run, a new process takes the run up and Flagger's retry gets its verdict", async () => {
    const runTmpDir = mkdtempSync(join(tmpdir(), "k6-gate-all-in-one-"));
    const gate = stack.testGate({ LOCK_DURATION: "3s", TMPDIR: runTmpDir });
    const first = await gate.startAllInOne();
    // Flagger's real client: a cut connection is retried (go-retryablehttp) on the same port.
    const verdict = callFlagger({
      url: first.url,
      timeout: "60s",
      retries: 10,
      metadata: { script: sleepingScript(stack.target.port, 3), wait_timeout: "50s" },
    });
    await waitFor("the run to start", running(first.url), { timeoutMs: 10_000 });
    const firstK6 = await waitFor("k6 to be running", () => realK6In(runTmpDir)[0], {
      timeoutMs: 10_000,
    });
    await first.stop("SIGKILL");
    // Its k6 dies with it (pdeathsig), not after the test.
    await waitFor("the orphaned k6 to die", () => !realK6In(runTmpDir).includes(firstK6), {
      timeoutMs: 5000,
    });

    const second = await gate.startAllInOne({}, { port: first.port });
    const result = await verdict;
    expect(result.error).toBe("");
    expect(result.ok).toBe(true);
    const runs = await runsOf(second.url);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: "finished", verdict: "pass", attempt: 2 });
    expect(realK6In(runTmpDir)).toEqual([]);
  });

  it("on SIGTERM answers the waiting call 503, lets k6 finish, and the retry gets that verdict", async () => {
    const k6 = k6Wrapper();
    const gate = stack.testGate({ K6_BIN: k6.bin, SHUTDOWN_GRACE: "20s" });
    const first = await gate.startAllInOne();
    const payload = payloadOf({
      metadata: { script: sleepingScript(stack.target.port, 2), wait_timeout: "50s" },
    });
    const waiting = postWebhook(first.url, payload);
    await waitFor("the run to start", running(first.url), { timeoutMs: 10_000 });
    const stopped = first.stop("SIGTERM");
    expect((await waiting).status).toBe(503);
    expect(await stopped).toBe(0);
    expect(first.output()).toContain('"verdict":"pass"');
    expect(first.output()).not.toContain("handed back");

    // The verdict was never delivered: the retry gets it, with no new run.
    const second = await gate.startAllInOne({}, { port: first.port });
    const retried = await postWebhook(second.url, payload);
    expect(retried.status).toBe(200);
    expect(k6.starts()).toBe(1);
  });
});
