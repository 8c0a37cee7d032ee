import { mkdtempSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { foundationScenarios } from "./scenarios/foundation";
import { callFlagger } from "./support/flagger";
import { k6Wrapper } from "./support/k6-wrapper";
import { startAllInOne, testEnv } from "./support/k6gate";
import { realK6Processes } from "./support/proc";
import type { ManagedProcess } from "./support/process";
import { startRedis, type TestRedis } from "./support/redis";
import { onServer } from "./support/redis-under-test";
import { runsOf } from "./support/runs";
import { sleepingScript } from "./support/scripts";
import { startTarget, type Target } from "./support/target";
import { waitFor } from "./support/wait";
import { payloadOf, postWebhook } from "./support/webhook";

/**
 * The all-in-one process (apps/all: the API and a worker in one Node process, what small
 * installs run) behaves as the two apart: the end-to-end scenarios of test/foundation.test.ts,
 * Flagger's retries riding on one run, and a process killed or stopped mid-run.
 */
let redis: TestRedis;
let target: Target;
let processes: ManagedProcess[] = [];

beforeAll(async () => {
  redis = await startRedis({ appendonly: true });
  target = await startTarget();
});
afterAll(async () => {
  await Promise.allSettled([redis?.destroy(), target?.close()]);
});

describe("the end-to-end scenarios, on one process", () => {
  foundationScenarios(() => onServer(redis), { allInOne: true });
});

describe("the all-in-one process", () => {
  afterEach(async () => {
    await Promise.allSettled(processes.map((p) => p.stop("SIGKILL")));
    processes = [];
  });

  /** Each test's runs live under its own RUN_TMP_DIR: its k6 are told apart by cwd. */
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
    const all = await startAllInOne(testEnv(redis.url, { K6_BIN: k6.bin }));
    processes.push(all);
    const metadata = { script: sleepingScript(target.port, 2), wait_timeout: "30s" };
    const responses = await Promise.all(
      Array.from({ length: 3 }, () => postWebhook(all.url, payloadOf({ metadata }))),
    );
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200]);
    expect(k6.starts()).toBe(1);
    expect(await runsOf(all.url)).toHaveLength(1);
  });

  it("after kill -9 mid-run, a new process takes the run up and Flagger's retry gets its verdict", async () => {
    const runTmpDir = mkdtempSync(join(tmpdir(), "k6-gate-all-in-one-"));
    const env = testEnv(redis.url, { LOCK_DURATION: "3s", RUN_TMP_DIR: runTmpDir });
    const first = await startAllInOne(env);
    processes.push(first);
    // Flagger's real client: a cut connection is retried (go-retryablehttp) on the same port.
    const verdict = callFlagger({
      url: first.url,
      timeout: "60s",
      retries: 10,
      metadata: { script: sleepingScript(target.port, 3), wait_timeout: "50s" },
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

    const second = await startAllInOne(env, { port: first.port });
    processes.push(second);
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
    const env = testEnv(redis.url, { K6_BIN: k6.bin, SHUTDOWN_GRACE: "20s" });
    const first = await startAllInOne(env);
    processes.push(first);
    const payload = payloadOf({
      metadata: { script: sleepingScript(target.port, 2), wait_timeout: "50s" },
    });
    const waiting = postWebhook(first.url, payload);
    await waitFor("the run to start", running(first.url), { timeoutMs: 10_000 });
    const stopped = first.stop("SIGTERM");
    expect((await waiting).status).toBe(503);
    expect(await stopped).toBe(0);
    expect(first.output()).toContain('"verdict":"pass"');
    expect(first.output()).not.toContain("handed back");

    // The verdict was never delivered: the retry gets it, with no new run.
    const second = await startAllInOne(env, { port: first.port });
    processes.push(second);
    const retried = await postWebhook(second.url, payload);
    expect(retried.status).toBe(200);
    expect(k6.starts()).toBe(1);
  });
});
