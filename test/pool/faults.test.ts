import { mkdtempSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { callFlagger } from "@k6-gate/testkit/flagger";
import { parentOf, realK6Processes } from "@k6-gate/testkit/proc";
import type { ManagedProcess } from "@k6-gate/testkit/process";
import { runsOf, type RunView } from "@k6-gate/testkit/runs";
import { sleepingScript } from "@k6-gate/testkit/scripts";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

const stack = useStack({ redis: { appendonly: true }, api: false, workers: 0 });

/** Each test's runs live under its own TMPDIR, so its k6 processes are told apart by cwd. */
const runTmpDir = mkdtempSync(join(tmpdir(), "k6-gate-faults-"));

function realK6Pids(): number[] {
  return realK6Processes().filter((pid) => {
    try {
      return readlinkSync(`/proc/${pid}/cwd`).startsWith(runTmpDir);
    } catch {
      return false; // exited meanwhile
    }
  });
}

/** The worker whose k6 is running: setpriv execs k6, so k6's parent is the worker. */
function workerRunningK6(candidates: ManagedProcess[]): ManagedProcess | undefined {
  const [k6Pid] = realK6Pids();
  if (k6Pid === undefined) return undefined;
  const parent = parentOf(k6Pid);
  return candidates.find((worker) => worker.pid === parent);
}

const running = (apiUrl: string) => async () => {
  const [run] = await runsOf(apiUrl);
  return run?.status === "running" ? run : undefined;
};

describe("worker faults", () => {
  it("re-runs a job on another worker after kill -9, with the right verdict and no orphan k6", async () => {
    // Real k6 (no wrapper), so setpriv's parent-death signal applies to k6 itself.
    const gate = stack.testGate({ LOCK_DURATION: "3s", TMPDIR: runTmpDir });
    const api = await gate.startApi();
    const workers = [await gate.startWorker(), await gate.startWorker()];
    const verdict = callFlagger({
      url: api.url,
      timeout: "60s",
      metadata: { script: sleepingScript(stack.target.port, 3), wait_timeout: "50s" },
    });
    await waitFor("the run to start", running(api.url), { timeoutMs: 10_000 });
    const victim = await waitFor("k6 to be running", () => workerRunningK6(workers), {
      timeoutMs: 10_000,
    });
    const firstK6 = realK6Pids();
    await victim.stop("SIGKILL");
    // The dead worker's k6 dies with it (pdeathsig), not after the test.
    await waitFor(
      "the orphaned k6 to die",
      () => !realK6Pids().some((pid) => firstK6.includes(pid)),
      { timeoutMs: 5000 },
    );

    const result = await verdict;
    expect(result.error).toBe("");
    expect(result.ok).toBe(true);
    const runs = await runsOf(api.url);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject<Partial<RunView>>({
      status: "finished",
      verdict: "pass",
      attempt: 2,
    });
    expect(realK6Pids()).toEqual([]);
  });

  it("hands a job back on SIGTERM past the grace time; another worker finishes it", async () => {
    const gate = stack.testGate({ SHUTDOWN_GRACE: "1s" });
    const api = await gate.startApi();
    const leaving = await gate.startWorker();
    const verdict = postWebhook(
      api.url,
      payloadOf({
        metadata: { script: sleepingScript(stack.target.port, 10), wait_timeout: "50s" },
      }),
    );
    await waitFor("the run to start", running(api.url), { timeoutMs: 10_000 });
    const staying = await gate.startWorker();
    await leaving.stop("SIGTERM");
    expect(leaving.output()).toContain("run handed back to the queue");
    expect(leaving.output()).not.toContain('"verdict":"fail"');

    const response = await verdict;
    expect(response.status).toBe(200);
    const runs = await runsOf(api.url);
    expect(runs).toHaveLength(1);
    expect(runs[0]?.verdict).toBe("pass");
    // Its log line may come a moment after Flagger's answer: the verdict is published first.
    await waitFor("the staying worker to log the verdict", () =>
      staying.output().includes('"verdict":"pass"'),
    );
  });

  it("lets running k6 finish when it ends within the grace time", async () => {
    const gate = stack.testGate({ SHUTDOWN_GRACE: "20s" });
    const api = await gate.startApi();
    const worker = await gate.startWorker();
    const verdict = postWebhook(
      api.url,
      payloadOf({
        metadata: { script: sleepingScript(stack.target.port, 2), wait_timeout: "50s" },
      }),
    );
    await waitFor("the run to start", running(api.url), { timeoutMs: 10_000 });
    expect(await worker.stop("SIGTERM")).toBe(0);
    expect((await verdict).status).toBe(200);
    expect(worker.output()).not.toContain("handed back");
  });
});

describe("Redis faults", () => {
  it("delivers the verdict when redis-server restarts during a run (AOF on)", async () => {
    const gate = stack.testGate();
    const api = await gate.startApi();
    await gate.startWorker();
    const verdict = callFlagger({
      url: api.url,
      timeout: "5s",
      retries: 10,
      metadata: { script: sleepingScript(stack.target.port, 4), wait_timeout: "3s" },
    });
    await waitFor("the run to start", running(api.url), { timeoutMs: 10_000 });
    await stack.redis.stop();
    // While Redis is away: not ready, and webhook calls fail fast with 503.
    const readyz = await fetch(`${api.url}/readyz`);
    expect(readyz.status).toBe(503);
    const started = Date.now();
    const during = await postWebhook(
      api.url,
      payloadOf({ name: "other", metadata: { script: "export default function () {}" } }),
    );
    expect(during.status).toBe(503);
    expect(during.headers.get("retry-after")).toBeTruthy();
    expect(Date.now() - started).toBeLessThan(5000);
    await stack.redis.start();
    await waitFor(
      "readiness to recover",
      async () => (await fetch(`${api.url}/readyz`)).status === 200,
      { timeoutMs: 15_000 },
    );

    const result = await verdict;
    expect(result.error).toBe("");
    expect(result.ok).toBe(true);
    const runs = await runsOf(api.url);
    expect(runs).toHaveLength(1);
  });

  it("lets a worker with no run exit on SIGTERM when Redis is gone, not after its whole grace", async () => {
    // As `helm uninstall` does: Redis leaves with the workers. Before, BullMQ's close waited
    // for Redis until SHUTDOWN_GRACE + 15 s had passed (here 75 s; the e2e's worker 375 s).
    const gate = stack.testGate({ SHUTDOWN_GRACE: "60s" });
    const worker = await gate.startWorker();
    await stack.redis.stop();
    try {
      // SIGKILL (exit code null) if it is still there 30 s after SIGTERM.
      expect(await worker.stop("SIGTERM", 30_000)).toBe(0);
      expect(worker.output()).toContain("worker stopping");
    } finally {
      await stack.redis.start();
    }
  });
});

describe("API shutdown", () => {
  it("answers waiting calls with 503 on SIGTERM so Flagger retries elsewhere", async () => {
    const gate = stack.testGate();
    const api = await gate.startApi();
    await gate.startWorker();
    const pending = postWebhook(
      api.url,
      payloadOf({
        metadata: { script: sleepingScript(stack.target.port, 5), wait_timeout: "60s" },
      }),
    );
    await waitFor("the run to start", running(api.url), { timeoutMs: 10_000 });
    await api.stop("SIGTERM");
    const response = await pending;
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBeTruthy();
    // The status as it is when the call is released, not as it was when the call came in.
    expect(response.text).toMatch(/ is running \(/);
  });
});
