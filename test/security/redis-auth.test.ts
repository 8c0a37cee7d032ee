// SECURITY.md, "Redis and scripts": Redis never accepts unauthenticated commands. A k6 script can send HTTP to
// any address it reaches, and Redis runs an HTTP request line as an inline command
// (`SET /<path> HTTP/1.1` sets a key). The shipped configurations run Redis with a
// password (the harness does too); the API and worker refuse an open Redis unless REDIS_URL
// says `?allow_unauthenticated=true` (or the former REDIS_ALLOW_UNAUTHENTICATED=true does).
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApi, startWorker, testEnv, type ApiProcess } from "@k6-gate/testkit/k6gate";
import { ROOT } from "@k6-gate/testkit/paths";
import { startProcess, type ManagedProcess } from "@k6-gate/testkit/process";
import { startRedis, type TestRedis } from "@k6-gate/testkit/redis";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";

let redis: TestRedis;
/** A redis-server without a password: what the refusal is for, and the attack's control. */
let openRedis: TestRedis;
let api: ApiProcess;
let worker: ManagedProcess;
let env: Record<string, string>;
const started: ManagedProcess[] = [];

beforeAll(async () => {
  [redis, openRedis] = await Promise.all([startRedis(), startRedis({ auth: false })]);
  env = testEnv(redis.url);
  [api, worker] = await Promise.all([startApi(env), startWorker(env)]);
});

afterAll(async () => {
  await Promise.allSettled([api?.stop(), worker?.stop(), ...started.map((p) => p.stop())]);
  await Promise.allSettled([redis?.destroy(), openRedis?.destroy()]);
});

/** The API or worker as `npm run api|worker` starts it, without waiting for it to be up. */
function launch(app: "api" | "worker", extra: Record<string, string>): ManagedProcess {
  const child = startProcess(
    process.execPath,
    ["--import", "tsx", join(ROOT, `apps/${app}/src/main.ts`)],
    {
      name: app,
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...testEnv(openRedis.url),
        PORT: "0",
        HOST: "127.0.0.1",
        ...extra,
      },
    },
  );
  started.push(child);
  return child;
}

const REFUSAL = /Redis at 127\.0\.0\.1:\d+ accepts commands without a password: any k6 script/;

describe("API and worker against a Redis that takes commands without a password", () => {
  it.each(["api", "worker"] as const)(
    "%s: refuses to start (exit 1) and says why, before writing anything",
    async (app) => {
      const child = launch(app, {});
      expect(await child.exited).toBe(1);
      const output = child.output();
      expect(output).toMatch(REFUSAL);
      expect(output).toContain("SECURITY.md");
      // The refusal names the current form, not the former variable.
      expect(output).toContain("add ?allow_unauthenticated=true to REDIS_URL");
      expect(output).not.toContain("REDIS_ALLOW_UNAUTHENTICATED");
      // A JSON log line at level fatal (60), not a stack trace.
      const line = output.split("\n").find((l) => REFUSAL.test(l)) ?? "";
      expect(JSON.parse(line)).toMatchObject({ level: 60 });
      const client = new Redis(openRedis.url);
      expect(await client.dbsize()).toBe(0);
      await client.quit();
    },
  );

  it.each([
    ["api", /api listening/],
    ["worker", /worker started/],
  ] as const)("%s: starts with REDIS_URL ?allow_unauthenticated=true", async (app, ready) => {
    const child = launch(app, { REDIS_URL: `${openRedis.url}?allow_unauthenticated=true` });
    await child.waitForOutput(ready);
    expect(child.output()).not.toMatch(REFUSAL);
    expect(child.output()).not.toContain("REDIS_ALLOW_UNAUTHENTICATED");
    await child.stop();
  });

  it.each(["api", "worker"] as const)(
    "%s: still refuses with ?allow_unauthenticated=false",
    async (app) => {
      const child = launch(app, { REDIS_URL: `${openRedis.url}?allow_unauthenticated=false` });
      expect(await child.exited).toBe(1);
      expect(child.output()).toMatch(REFUSAL);
    },
  );

  // The former variable, read into REDIS_URL as ?allow_unauthenticated= (issue 32's fold).
  it.each([
    ["api", /api listening/],
    ["worker", /worker started/],
  ] as const)(
    "%s: starts with the former REDIS_ALLOW_UNAUTHENTICATED=true, saying where it belongs",
    async (app, ready) => {
      const child = launch(app, { REDIS_ALLOW_UNAUTHENTICATED: "true" });
      await child.waitForOutput(ready);
      const output = child.output();
      expect(output).not.toMatch(REFUSAL);
      const notice = output
        .split("\n")
        .find((line) => line.includes("REDIS_ALLOW_UNAUTHENTICATED is k6-gate's former setting"));
      expect(notice, output).toBeDefined();
      expect(JSON.parse(notice ?? "{}")).toMatchObject({
        level: 40,
        msg: "REDIS_ALLOW_UNAUTHENTICATED is k6-gate's former setting, read into REDIS_URL (?allow_unauthenticated=true). Move it there: REDIS_ALLOW_UNAUTHENTICATED is deprecated",
      });
      await child.stop();
    },
  );

  it("starts against the password-protected Redis of every shipped configuration", () => {
    // beforeAll started both on `redis` (requirepass); nothing was refused.
    expect(api.output()).not.toMatch(REFUSAL);
    expect(worker.output()).not.toMatch(REFUSAL);
  });
});

/**
 * Sends what a hostile script would: a `SET` request line with a 32 KB path, a short
 * one, a POST whose body is Redis commands, and a GET. Only to 127.0.0.1.
 */
const attackScript = `
import http from 'k6/http';
export const options = { vus: 1, iterations: 1 };
export default function () {
  const base = 'http://127.0.0.1:' + __ENV.REDIS_PORT;
  http.request('SET', base + '/k6gate-pwned-' + 'x'.repeat(32 * 1024));
  http.request('SET', base + '/k6gate-pwned-short');
  http.post(base + '/', 'SET pwned 1\\r\\nSET k6gate-pwned-body 1\\r\\n');
  http.get(base + '/k6gate-pwned-get');
}
`;

let checksum = 0;
/** Runs the attack through k6-gate (real worker, real k6) against the Redis on `port`. */
async function attack(port: number): Promise<number> {
  const response = await postWebhook(
    api.url,
    payloadOf({
      checksum: `attack-${++checksum}`,
      metadata: {
        script: attackScript,
        env_vars: JSON.stringify({ REDIS_PORT: String(port) }),
        wait_timeout: "50s",
      },
    }),
  );
  return response.status;
}

/** Keys outside k6-gate's own (its queue prefix), and the ones the attack would make. */
async function foreignKeys(client: Redis): Promise<string[]> {
  const keys = await client.keys("*");
  return keys.filter((key) => !key.startsWith(`${env.QUEUE_PREFIX}:`)).sort();
}

/** How many commands Redis refused for want of a password (INFO errorstats). */
async function noauthCount(client: Redis): Promise<number> {
  const info = await client.info("errorstats");
  return Number(/errorstat_NOAUTH:count=(\d+)/.exec(info)?.[1] ?? 0);
}

describe("a k6 script sending HTTP at Redis", () => {
  it("writes keys into a Redis without a password (the control: the attack is real)", async () => {
    const client = new Redis(openRedis.url);
    try {
      await client.flushall();
      // The verdict itself does not matter here (its requests fail); that the run ended does.
      expect([200, 422]).toContain(await attack(openRedis.port));
      const written = await foreignKeys(client);
      expect(written.some((key) => key.startsWith("/k6gate-pwned-xxx"))).toBe(true);
      expect(written).toContain("/k6gate-pwned-short");
    } finally {
      await client.quit();
    }
  });

  it("changes nothing in the password-protected Redis k6-gate runs on: every line is NOAUTH", async () => {
    // KEYS * and INFO errorstats: the default user (k6-gate's ACL user may not).
    const client = new Redis(redis.adminUrl);
    try {
      const before = await foreignKeys(client);
      const refusedBefore = await noauthCount(client);
      expect([200, 422]).toContain(await attack(redis.port));
      expect(await foreignKeys(client)).toEqual(before);
      expect(before).toEqual([]);
      expect(await client.exists("pwned", "k6gate-pwned-body")).toBe(0);
      expect(await client.keys("*pwned*")).toEqual([]);
      // The requests did reach Redis, and were refused.
      expect(await noauthCount(client)).toBeGreaterThanOrEqual(refusedBefore + 2);
    } finally {
      await client.quit();
    }
  });
});
