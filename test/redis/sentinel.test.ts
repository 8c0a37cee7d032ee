import { createServer } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startApi, startWorker, testEnv, type ApiProcess } from "@k6-gate/testkit/k6gate";
import type { ManagedProcess } from "@k6-gate/testkit/process";
import { startSentinelSet, type TestSentinelSet } from "@k6-gate/testkit/redis-sentinel";
import { runIdIn, runsOf } from "@k6-gate/testkit/runs";
import { startTarget, type Target } from "@k6-gate/testkit/target";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook, type WebhookResponse } from "@k6-gate/testkit/webhook";

/**
 * k6-gate on a Sentinel-managed primary (REDIS_SENTINELS): three redis-servers, three
 * sentinels (quorum 2). The primary is killed with -9 under load; the API and workers
 * follow the promoted replica without a restart, and every call gets its verdict.
 */
let set: TestSentinelSet;
let target: Target;
let processes: ManagedProcess[] = [];

beforeAll(async () => {
  [set, target] = await Promise.all([startSentinelSet(), startTarget()]);
});
afterAll(async () => {
  await Promise.allSettled([set?.destroy(), target?.close()]);
});
afterEach(async () => {
  await Promise.allSettled(processes.map((each) => each.stop("SIGKILL")));
  processes = [];
});

/** The k6-gate env on the sentinels, with testEnv's fresh prefix. */
const sentinelEnv = (extra: Record<string, string> = {}) => ({
  ...testEnv(set.env.REDIS_URL as string, extra),
  ...set.env,
});

async function startStack(apis: number, workers: number, env: Record<string, string>) {
  const started = await Promise.all([
    ...Array.from({ length: apis }, () => startApi(env)),
    ...Array.from({ length: workers }, () => startWorker(env)),
  ]);
  processes.push(...started);
  return { apis: started.slice(0, apis) as ApiProcess[], workers: started.slice(apis) };
}

/**
 * GETs `/sentinel/<check>/start` once (so the target counts this check's k6 runs), then
 * `then` (k6 code).
 */
const checkScript = (check: string, then: string) => `
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 1, iterations: 1, thresholds: { http_req_failed: ['rate<0.01'] } };
export default function () { http.get('http://127.0.0.1:${target.port}/sentinel/${check}/start'); ${then}; }
`;
const k6RunsOf = (check: string) => target.hits.get(`/sentinel/${check}/start`) ?? 0;

/** An HTTP server whose `/hold` answers only once `release()` is called, then at once. */
async function startHold() {
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const server = createServer((_req, res) => {
    void released.then(() => res.writeHead(200).end("go"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hold`,
    release,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Resolves once nothing accepts connections on `port` any more. */
const refused = (port: number) =>
  waitFor(
    `127.0.0.1:${port} to refuse connections`,
    () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, "127.0.0.1");
        socket.once("connect", () => {
          socket.destroy();
          resolve(false);
        });
        socket.once("error", () => resolve(true));
      }),
  );

interface Answer {
  response: WebhookResponse;
  at: number;
  /** 503s (and refused connections) retried before the answer. */
  retries: number;
  /** When the last of them came (0: none). */
  last503At: number;
}

/**
 * One webhook call as Flagger makes it with `retries` set: a 503 (or a transport error)
 * is POSTed again. Flagger waits Retry-After first; a short pause keeps the test fast.
 */
async function flaggerCall(apiUrl: string, body: unknown): Promise<Answer> {
  let last503At = 0;
  for (let retries = 0; ; retries++) {
    const response = await postWebhook(apiUrl, body).catch((error: unknown): WebhookResponse => ({
      status: 0,
      text: String(error),
      headers: new Headers(),
    }));
    if (response.status !== 503 && response.status !== 0)
      return { response, at: Date.now(), retries, last503At };
    last503At = Date.now();
    if (retries >= 40)
      throw new Error(`still ${response.status} after 40 retries: ${response.text}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Long-polls being held by `api` now (k6gate_long_polls_in_flight). */
async function longPollsOf(api: ApiProcess): Promise<number> {
  const text = await (await fetch(`${api.url}/metrics`)).text();
  return Number(/^k6gate_long_polls_in_flight (\d+)/m.exec(text)?.[1] ?? 0);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describe("the primary killed with -9 under load", () => {
  it("loses no verdict: 10 runs and 50 long-polls on 2 APIs and 2 workers all answer, k6 at most twice per check", async () => {
    const env = sentinelEnv({ WORKER_CONCURRENCY: "5" });
    const [{ apis }, hold] = await Promise.all([startStack(2, 2, env), startHold()]);
    const apiFor = (index: number) => apis[index % apis.length] as ApiProcess;
    // Each run's k6 holds until the primary is gone: every verdict is recorded after.
    const checks = Array.from({ length: 10 }, (_, index) => ({
      index,
      name: `sentinel-${index}`,
      body: payloadOf({
        name: `sentinel-${index}`,
        metadata: { script: checkScript(`sentinel-${index}`, `http.get('${hold.url}')`) },
      }),
    }));

    try {
      // Ten checks start; once every k6 runs, five more callers join each one.
      const calls: Promise<Answer & { check: string }>[] = [];
      const call = (check: (typeof checks)[number], api: ApiProcess) => {
        const answer = flaggerCall(api.url, check.body).then((each) => ({
          ...each,
          check: check.name,
        }));
        // Awaited below; handled now so a test that fails first reports only its own error.
        answer.catch(() => {});
        calls.push(answer);
      };
      for (const check of checks) call(check, apiFor(check.index));
      await waitFor("every check's k6 to run", () => checks.every(({ name }) => k6RunsOf(name)), {
        timeoutMs: 30_000,
      });
      for (const check of checks)
        for (let repeat = 1; repeat <= 5; repeat++) call(check, apiFor(check.index + repeat));
      await waitFor(
        "60 long-polls held by the two APIs",
        async () => (await Promise.all(apis.map(longPollsOf))).reduce((a, b) => a + b) === 60,
        { timeoutMs: 15_000 },
      );

      const primary = await set.primaryPort();
      const killedAt = Date.now();
      const failover = set.failover("SIGKILL");
      await refused(primary);
      hold.release();
      const { oldPort, newPort, promotedAfterMs } = await failover;
      const answers = await Promise.all(calls);

      const notPassed = answers.filter(({ response }) => response.status !== 200);
      expect(
        notPassed.map(({ check, response }) => `${check}: ${response.status} ${response.text}`),
      ).toEqual([]);
      const k6Runs = checks.map(({ name }) => k6RunsOf(name));
      expect(Math.min(...k6Runs)).toBeGreaterThanOrEqual(1);
      expect(Math.max(...k6Runs)).toBeLessThanOrEqual(2);

      // The verdicts of the ten runs k6 was holding when the primary died, and of the runs
      // started by a retry that came after another caller had taken the first run's verdict
      // (a fresh run, by the four-step rule of docs/architecture.md, section 3: why k6 may run twice).
      const runs = await Promise.all(
        checks.map(async ({ name }) => (await runsOf(apis[0]!.url, name)).at(-1)),
      );
      const firstRuns = new Set(runs.map((run) => run?.id));
      // finishedAt: when the worker first tried to write the verdict (k6 had ended).
      const k6Ended = runs.map((run) => (run?.finishedAt ?? 0) - killedAt);
      const after = (each: Answer[]) => each.map(({ at }) => at - killedAt);
      const held = after(answers.filter(({ response }) => firstRuns.has(runIdIn(response.text))));
      const fresh = after(answers.filter(({ response }) => !firstRuns.has(runIdIn(response.text))));
      const retried = answers.reduce((sum, { retries }) => sum + retries, 0);
      const last503 = Math.max(0, ...answers.map(({ last503At }) => last503At - killedAt));
      console.log(
        `sentinel failover, primary ${oldPort} -> ${newPort}: kill -9 -> replica promoted ${seconds(promotedAfterMs)}; ` +
          `the 10 runs' k6 ended ${seconds(Math.min(...k6Ended))}-${seconds(Math.max(...k6Ended))} after the kill, ` +
          `the ${held.length} calls on them answered ${seconds(Math.min(...held))}-${seconds(Math.max(...held))} after it; ` +
          `${fresh.length} answers from fresh runs; ${retried} 503s retried` +
          (retried ? ` (the last ${seconds(last503)} after the kill)` : "") +
          `; k6 runs per check: ${k6Runs.join(",")}`,
      );
    } finally {
      hold.release();
      await hold.close();
    }
  }, 90_000);
});

describe("after a failover, without a restart", () => {
  it("an API and a worker started via the sentinels go on: a new check runs and its long-poll is woken by pub/sub", async () => {
    await set.restartStopped();
    const env = sentinelEnv();
    const prefix = env.QUEUE_PREFIX;
    const {
      apis: [api],
    } = await startStack(1, 1, env);
    const finishedChannel = `${prefix}:gate:finished`;
    const subscribersOn = async (url: string) => {
      const admin = new Redis(url, { maxRetriesPerRequest: 1 });
      try {
        const [, count] = (await admin.pubsub("NUMSUB", finishedChannel)) as [string, number];
        return Number(count);
      } finally {
        admin.disconnect();
      }
    };
    expect(await subscribersOn(await set.primaryUrl())).toBe(1);

    const { newPort } = await set.failover("SIGKILL");
    // The API's connections find the promoted primary, and its subscriber subscribes there.
    await waitFor("the API to reach Redis", async () => (await fetch(`${api!.url}/readyz`)).ok);
    await waitFor(
      "the API to subscribe to verdicts on the new primary",
      async () => (await subscribersOn(`redis://:${set.password}@127.0.0.1:${newPort}`)) === 1,
      { timeoutMs: 15_000 },
    );

    // Three checks after the failover: each long-poll answers as soon as its verdict is
    // recorded, well before the slow re-check (1.5-4.5 s) would find it.
    const answers = await Promise.all(
      [1, 2, 3].map((index) =>
        flaggerCall(
          api!.url,
          payloadOf({
            name: `after-failover-${index}`,
            metadata: { script: checkScript(`after-failover-${index}`, `sleep(${index / 2})`) },
          }),
        ).then(async (answer) => ({
          ...answer,
          run: (await runsOf(api!.url, `after-failover-${index}`))[0],
        })),
      ),
    );
    for (const { response, retries, run } of answers) {
      expect(response.status).toBe(200);
      expect(retries).toBe(0);
      expect(run).toMatchObject({ status: "finished", verdict: "pass" });
    }
    const lags = answers.map(({ at, run }) => at - (run?.finishedAt ?? 0));
    console.log(`long-polls after failover answered ${lags.join(", ")} ms after their verdicts`);
    expect(Math.max(...lags)).toBeLessThan(750);
  }, 60_000);
});
