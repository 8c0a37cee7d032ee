import { mkdtempSync, readFileSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RUN_QUEUE } from "@k6-gate/shared";
import type { ApiProcess } from "@k6-gate/testkit/k6gate";
import { k6Wrapper } from "@k6-gate/testkit/k6-wrapper";
import { parentOf, realK6Processes } from "@k6-gate/testkit/proc";
import { runsOf } from "@k6-gate/testkit/runs";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook, type WebhookResponse } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

/**
 * Superseding and cancelling, on real processes: redis-server, APIs and workers as
 * `npm run api` / `npm run worker` start them, and the real k6. Each k6 carries the
 * revision it tests in its environment (env_vars TEST_TAG), so the test tells them apart
 * in /proc, and the k6 wrapper logs which ones ever started.
 */
const stack = useStack({ api: false, workers: 0 });
const runTmpDir = mkdtempSync(join(tmpdir(), "k6-gate-supersede-"));

const USER = "ops";
const PASSWORD = "dashboard-password-for-tests";
const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;

/** Runs about `seconds` seconds (one iteration), then passes. */
const sleeping = (seconds: number) => `
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 1, iterations: 1, thresholds: { http_req_failed: ['rate<0.01'] } };
export default function () { http.get('http://127.0.0.1:${stack.target.port}/ok'); sleep(${seconds}); }
`;

/** A call of canary `name` for revision `checksum`, its k6 tagged with the revision. */
function call(
  api: ApiProcess,
  checksum: string,
  seconds: number,
  {
    name = "podinfo",
    metadata = {},
    signal,
  }: { name?: string; metadata?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<WebhookResponse> {
  return postWebhook(
    api.url,
    payloadOf({
      name,
      checksum,
      metadata: {
        script: sleeping(seconds),
        env_vars: JSON.stringify({ TEST_TAG: `${name}@${checksum}` }),
        ...metadata,
      },
    }),
    { signal },
  );
}

/**
 * A call of `checksum` whose caller leaves once `reached` finds its run, as Flagger's call
 * of an old revision has left by the time it calls for a new one: the API drops its lease
 * on the run (decision 41), so a new revision may supersede it.
 */
async function leftCall<T>(
  api: ApiProcess,
  checksum: string,
  seconds: number,
  reached: () => Promise<T>,
  name = "podinfo",
): Promise<T> {
  const caller = new AbortController();
  const answer = call(api, checksum, seconds, { name, signal: caller.signal }).catch(
    () => undefined,
  );
  const run = await reached();
  const left = api.output().split("caller left; the run goes on").length;
  caller.abort();
  await answer;
  await waitFor(
    "the API to see its caller leave",
    () => api.output().split("caller left; the run goes on").length > left,
  );
  return run;
}

/** Real k6 processes of this file's workers running `name@checksum`, from /proc. */
function k6Of(tag: string): number[] {
  return realK6Processes().filter((pid) => {
    try {
      return (
        readlinkSync(`/proc/${pid}/cwd`).startsWith(runTmpDir) &&
        readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`TEST_TAG=${tag}`)
      );
    } catch {
      return false; // exited meanwhile
    }
  });
}

const runOf = async (api: ApiProcess, checksum: string, name = "podinfo") =>
  (await runsOf(api.url, name)).find((run) => run.checksum === checksum);

const statusOf = (api: ApiProcess, checksum: string, status: string, name = "podinfo") =>
  waitFor(`${name}@${checksum} to be ${status}`, async () => {
    const run = await runOf(api, checksum, name);
    return run?.status === status ? run : undefined;
  });

interface FullRun {
  id: string;
  status: string;
  outcome: string | null;
  reason: string | null;
  supersededBy: string | null;
  cancelledBy: string | null;
  queue: { position: number; ahead: number; queued: number; estimatedStartAt: number | null };
}

async function runJson(api: ApiProcess, id: string, auth?: string): Promise<FullRun> {
  const response = await fetch(`${api.url}/api/runs/${id}`, {
    headers: auth ? { authorization: auth } : {},
  });
  return (await response.json()) as FullRun;
}

function cancel(api: ApiProcess, id: string, reason: string, headers: Record<string, string> = {}) {
  return fetch(`${api.url}/api/runs/${id}/cancel`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: basic, ...headers },
    body: JSON.stringify({ reason }),
  });
}

/** Measured delays from the decision that ended a run to its k6 being gone, for the report. */
const stopDelays: number[] = [];
afterAll(() => {
  if (stopDelays.length) console.log(`k6 gone after the run ended: ${stopDelays.join(", ")} ms`);
});

/** Waits until none of `pids` is alive; returns how long that took from `since`. */
async function goneAfter(pids: number[], since: number): Promise<number> {
  await waitFor("k6 to exit", () => !realK6Processes().some((pid) => pids.includes(pid)), {
    timeoutMs: 15_000,
    everyMs: 10,
  });
  const delay = Date.now() - since;
  stopDelays.push(delay);
  return delay;
}

describe("supersede", () => {
  it("stops a running run of the old revision whose caller left within 3 s, and runs the new one", async () => {
    const gate = stack.testGate({ TMPDIR: runTmpDir, WORKER_CONCURRENCY: "2" });
    const api = await gate.startApi();
    const worker = await gate.startWorker();
    const oldRunning = await leftCall(api, "rev-a", 20, () => statusOf(api, "rev-a", "running"));
    const oldK6 = await waitFor("rev-a's k6", () => {
      const pids = k6Of("podinfo@rev-a");
      return pids.length ? pids : undefined;
    });
    const newCall = call(api, "rev-b", 1);
    const newRun = await waitFor("rev-b's run", () => runOf(api, "rev-b"));
    const delay = await goneAfter(oldK6, newRun.enqueuedAt);
    expect(delay).toBeLessThan(3000);

    expect((await newCall).status).toBe(200);

    const oldRun = await runJson(api, oldRunning.id);
    expect(oldRun).toMatchObject({
      status: "finished",
      outcome: "superseded",
      supersededBy: newRun.id,
    });
    const output = await fetch(`${api.url}/api/runs/${oldRun.id}/output`);
    expect(((await output.json()) as { output: string }).output).toContain(
      "[k6-gate: k6 stopped: superseded by revision rev-b]",
    );
    await worker.waitForOutput(/"via":"message"[^\n]*run ended under its attempt/);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toMatch(/^k6gate_runs_stopped_total\{outcome="superseded"\} 1$/m);
  });

  it("removes a queued run of the old revision from the queue: no k6 ever starts for it", async () => {
    const k6 = k6Wrapper();
    const gate = stack.testGate({ TMPDIR: runTmpDir, K6_BIN: k6.bin });
    const api = await gate.startApi();
    await gate.startWorker();
    const queue = new Queue(RUN_QUEUE, {
      connection: new Redis(stack.redis.url),
      prefix: gate.env.QUEUE_PREFIX,
    });
    try {
      // The only slot is busy with another canary: rev-a waits in the queue.
      const blocker = call(api, "x", 3, { name: "blocker" });
      await statusOf(api, "x", "running", "blocker");
      const queued = await leftCall(api, "rev-a", 1, () => statusOf(api, "rev-a", "queued"));
      expect(await queue.getJobState(queued.id)).toBe("prioritized");

      const newCall = call(api, "rev-b", 1);
      await waitFor(
        "rev-a's job to leave the queue",
        async () => (await queue.getJobState(queued.id)) === "unknown",
      );
      expect((await newCall).status).toBe(200);
      expect((await blocker).status).toBe(200);
      expect(k6.startsOf("podinfo@rev-a")).toBe(0);
      expect(k6.startsOf("podinfo@rev-b")).toBe(1);
      expect(await runJson(api, queued.id)).toMatchObject({ outcome: "superseded" });
    } finally {
      await queue.close();
    }
  });

  it('runs both revisions with supersede: "false"', async () => {
    const k6 = k6Wrapper();
    const gate = stack.testGate({
      TMPDIR: runTmpDir,
      K6_BIN: k6.bin,
      WORKER_CONCURRENCY: "2",
    });
    const api = await gate.startApi();
    await gate.startWorker();
    const both = { metadata: { supersede: "false" } };
    const oldCall = call(api, "rev-a", 3, both);
    await statusOf(api, "rev-a", "running");
    const newCall = call(api, "rev-b", 1, both);
    expect((await newCall).status).toBe(200);
    expect((await oldCall).status).toBe(200);
    expect(k6.maxConcurrent()).toBe(2);
  });

  it("refuses a cancel when no dashboard login is configured", async () => {
    const gate = stack.testGate({ TMPDIR: runTmpDir });
    const api = await gate.startApi();
    const accepted = await call(api, "rev-a", 1, { metadata: { wait_for_results: "false" } });
    expect(accepted.status).toBe(202);
    const [run] = await runsOf(api.url);
    const refused = await cancel(api, run!.id, "no login");
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("set DASHBOARD_USER and DASHBOARD_PASSWORD");
    expect((await runOf(api, "rev-a"))?.status).toBe("queued");
  });
});

describe("cancel", () => {
  it("stops k6, ends the run cancelled with the reason and who, fails the waiting call with the reason; a finished run is a 409", async () => {
    const gate = stack.testGate({
      TMPDIR: runTmpDir,
      DASHBOARD_USER: USER,
      DASHBOARD_PASSWORD: PASSWORD,
    });
    const api = await gate.startApi();
    await gate.startWorker();
    const waiting = call(api, "rev-a", 20);
    const running = await waitFor("the run to start", async () => {
      const response = await fetch(`${api.url}/api/runs?namespace=test&name=podinfo`, {
        headers: { authorization: basic },
      });
      const [run] = ((await response.json()) as { runs: FullRun[] }).runs;
      return run?.status === "running" ? run : undefined;
    });
    const pids = await waitFor("k6", () => {
      const found = k6Of("podinfo@rev-a");
      return found.length ? found : undefined;
    });

    // The run page offers the button; its script posts JSON to this endpoint.
    const page = await (
      await fetch(`${api.url}/runs/${running.id}`, { headers: { authorization: basic } })
    ).text();
    expect(page).toContain(`data-src="/api/runs/${running.id}/cancel"`);

    // Forgeable by another site's page: refused before anything changes.
    const form = await fetch(`${api.url}/api/runs/${running.id}/cancel`, {
      method: "POST",
      headers: { "content-type": "text/plain", authorization: basic },
      body: '{"reason":"forged"}',
    });
    expect(form.status).toBe(415);
    const crossSite = await cancel(api, running.id, "forged", { origin: "https://evil.example" });
    expect(crossSite.status).toBe(403);

    const asked = Date.now();
    const cancelled = await cancel(api, running.id, "wrong target");
    expect(cancelled.status).toBe(200);
    expect(await goneAfter(pids, asked)).toBeLessThan(3000);
    const answer = await waiting;
    expect(answer.status).toBe(422);
    expect(answer.text).toContain("(cancelled)");
    expect(answer.text).toContain(`cancelled by ${USER}: wrong target`);
    expect(await runJson(api, running.id, basic)).toMatchObject({
      status: "finished",
      outcome: "cancelled",
      cancelledBy: USER,
      reason: `cancelled by ${USER}: wrong target`,
    });

    const again = await cancel(api, running.id, "twice");
    expect(again.status).toBe(409);
    expect(await again.text()).toContain("has already finished (cancelled)");
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toMatch(/^k6gate_runs_stopped_total\{outcome="cancelled"\} 1$/m);
  });
});

describe("across two APIs and two workers", () => {
  it("supersedes and cancels with a worker killed mid-cancel: no run is left running or waiting", async () => {
    const gate = stack.testGate({
      TMPDIR: runTmpDir,
      DASHBOARD_USER: USER,
      DASHBOARD_PASSWORD: PASSWORD,
      LOCK_DURATION: "3s",
    });
    const [one, two] = [await gate.startApi(), await gate.startApi()];
    const workers = [await gate.startWorker(), await gate.startWorker()];
    const authed = { headers: { authorization: basic } };
    const listRuns = async (api: ApiProcess, name: string) => {
      const response = await fetch(`${api.url}/api/runs?namespace=test&name=${name}`, authed);
      return ((await response.json()) as { runs: FullRun[] }).runs;
    };

    const xRunning = () =>
      waitFor("x to run", async () => (await listRuns(two, "x"))[0]?.status === "running");
    const xOld = leftCall(one, "rev-a", 20, xRunning, "x");
    const yCall = call(two, "rev-1", 20, { name: "y" });
    const yRun = await waitFor("y to run", async () => {
      const [run] = await listRuns(one, "y");
      return run?.status === "running" ? run : undefined;
    });
    await xRunning();
    const [yK6] = await waitFor("y's k6", () => {
      const pids = k6Of("y@rev-1");
      return pids.length ? pids : undefined;
    });
    // setpriv execs k6: its parent is the worker running it. Freeze that worker, so the
    // stop reaches it only after it is gone; cancel; then kill it.
    const yWorker = workers.find((worker) => worker.pid === parentOf(yK6!));
    expect(yWorker).toBeDefined();
    process.kill(yWorker!.pid, "SIGSTOP");
    expect((await cancel(one, yRun.id, "runaway")).status).toBe(200);
    const yAnswer = await yCall;
    expect(yAnswer.status).toBe(422);
    expect(yAnswer.text).toContain(`cancelled by ${USER}: runaway`);
    await yWorker!.stop("SIGKILL");

    // Meanwhile a new revision of x arrives at the other API; x@rev-a's caller (at the
    // first API) has left.
    await xOld;
    const xOldK6 = k6Of("x@rev-a");
    const xNew = call(two, "rev-b", 1, { name: "x" });
    expect((await xNew).status).toBe(200);
    await waitFor(
      "x@rev-a's k6 to exit",
      () => !realK6Processes().some((pid) => xOldK6.includes(pid)),
    );

    // Nothing left: no run in flight, no job waiting or active, no k6, no namespace slot.
    const queue = new Queue(RUN_QUEUE, {
      connection: new Redis(stack.redis.url),
      prefix: gate.env.QUEUE_PREFIX,
    });
    const client = new Redis(stack.redis.url);
    try {
      await waitFor(
        "every run and job to settle",
        async () => {
          const runs = [...(await listRuns(two, "x")), ...(await listRuns(one, "y"))];
          const counts = await queue.getJobCounts("active", "waiting", "delayed", "prioritized");
          const slots = await client.zcard(`${gate.env.QUEUE_PREFIX}:gate:slots:namespace:test`);
          return (
            runs.every((run) => run.status === "finished") &&
            Object.values(counts).every((count) => count === 0) &&
            slots === 0 &&
            k6Of("x@rev-a").length + k6Of("y@rev-1").length === 0
          );
        },
        { timeoutMs: 30_000, everyMs: 200 },
      );
      const runs = [...(await listRuns(two, "x")), ...(await listRuns(one, "y"))];
      expect(runs.map((run) => run.outcome).sort()).toEqual(["cancelled", "passed", "superseded"]);
    } finally {
      await queue.close();
      client.disconnect();
    }
  });
});
