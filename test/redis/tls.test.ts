// Redis over TLS (issue 16): `rediss://` with `?ca=` (REDIS_TLS_CA before issue 32) naming
// the CA that signed the server's certificate. A redis-server that takes TLS only
// (libs/testkit/src/redis-tls.ts: a throwaway CA made with openssl) and k6-gate as the ACL
// user of deploy/redis/k6gate.acl.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { launchApp, startApi, startWorker, testEnv } from "@k6-gate/testkit/k6gate";
import type { ManagedProcess } from "@k6-gate/testkit/process";
import { startTlsRedis, type TestTlsRedis } from "@k6-gate/testkit/redis-tls";
import { failingScript, passingScript } from "@k6-gate/testkit/scripts";
import { startTarget, type Target } from "@k6-gate/testkit/target";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";

let redis: TestTlsRedis;
let target: Target;
/** The default user over TLS, trusting the right CA: to look at what k6-gate wrote. */
let admin: Redis;
let processes: ManagedProcess[] = [];

beforeAll(async () => {
  [redis, target] = await Promise.all([startTlsRedis(), startTarget()]);
  admin = new Redis(redis.adminUrl, { tls: { ca: readFileSync(redis.ca, "utf8") } });
});
afterEach(async () => {
  await Promise.allSettled(processes.map((p) => p.stop("SIGKILL")));
  processes = [];
});
afterAll(async () => {
  admin?.disconnect();
  await Promise.allSettled([redis?.destroy(), target?.close()]);
});

/** The API or worker, not waited for, stopped after the test. */
function launch(app: "api" | "worker", env: Record<string, string>): ManagedProcess {
  const child = launchApp(app, env);
  processes.push(child);
  return child;
}

describe("k6-gate on a Redis that takes TLS only", () => {
  it("judges real k6 runs end to end with rediss:// and ?ca=", async () => {
    const plain = testEnv(redis.url);
    expect(plain.REDIS_URL).toMatch(/^rediss:\/\/k6gate:[0-9a-f]+@127\.0\.0\.1:\d+$/);
    const env: typeof plain = { ...plain, REDIS_URL: `${plain.REDIS_URL}?ca=${redis.ca}` };
    const api = await startApi(env);
    processes.push(api);
    processes.push(await startWorker(env));

    const passed = await postWebhook(
      api.url,
      payloadOf({ checksum: "tls-1", metadata: { script: passingScript(target.port) } }),
    );
    expect(passed.status).toBe(200);
    expect(passed.text).toContain("PASS test/podinfo");
    const failed = await postWebhook(
      api.url,
      payloadOf({ checksum: "tls-2", metadata: { script: failingScript(target.port) } }),
    );
    expect(failed.status).toBe(422);
    expect(failed.text).toContain("FAIL test/podinfo (thresholds_failed)");

    // The verdicts are in this Redis, written over TLS by k6-gate's ACL user.
    const runKeys = await admin.keys(`${env.QUEUE_PREFIX}:gate:run:*`);
    const verdicts = await Promise.all(runKeys.map((key) => admin.hget(key, "verdict")));
    expect(verdicts.sort()).toEqual(["fail", "pass"]);
    const clients = (await admin.client("LIST")) as string;
    const users = [...clients.matchAll(/ user=(\S+)/g)];
    expect(new Set(users.map(([, user]) => user))).toEqual(new Set(["default", "k6gate"]));
  });

  const UNTRUSTED =
    /Redis at 127\.0\.0\.1:\d+ presented a TLS certificate that is not trusted \([A-Z_]+\): add \?ca=<the PEM file of the CA that signed it> to REDIS_URL/;

  it.each(["api", "worker"] as const)(
    "%s: exits 1 at start naming REDIS_URL's ?ca= when that CA did not sign Redis's certificate, before writing anything",
    async (app) => {
      const env = testEnv(redis.url, { REDIS_TLS_CA: redis.otherCa });
      const child = launch(app, env);
      expect(await child.exited).toBe(1);
      const output = child.output();
      expect(output).toMatch(UNTRUSTED);
      expect(output).toContain("(the one set does not)");
      // A JSON log line at level fatal (60), not a stack trace.
      const line = output.split("\n").find((text) => UNTRUSTED.test(text)) ?? "";
      expect(JSON.parse(line)).toMatchObject({ level: 60 });
      expect(output).not.toMatch(/api listening|worker started/);
      expect(await admin.keys(`${env.QUEUE_PREFIX}:*`)).toEqual([]);
    },
  );

  it("without ?ca= (the system's CAs do not know a private CA) says to set it", async () => {
    const env = testEnv(redis.url);
    const child = launch("api", env);
    expect(await child.exited).toBe(1);
    expect(child.output()).toMatch(UNTRUSTED);
    expect(child.output()).not.toContain("(the one set does not)");
    expect(await admin.keys(`${env.QUEUE_PREFIX}:*`)).toEqual([]);
  });
});

// These set k6-gate's former REDIS_TLS_CA, which is read into REDIS_URL as ?ca=: the same
// path as the new form, and its errors name REDIS_URL.
describe("a ?ca= that cannot be used", () => {
  it.each(["api", "worker"] as const)(
    "%s: a file that cannot be read is a configuration error naming REDIS_URL's ?ca= (exit 1)",
    async (app) => {
      const missing = join(dirname(redis.ca), "missing-ca.pem");
      const child = launch(app, testEnv(redis.url, { REDIS_TLS_CA: missing }));
      expect(await child.exited).toBe(1);
      const output = child.output();
      expect(output).toContain("invalid configuration");
      expect(output).toContain(`REDIS_URL: ?ca=: cannot read ${missing}: ENOENT`);
    },
  );

  it.each([
    // As root (the CI container) no file mode keeps a file from being read: a directory is
    // a path that exists and still cannot be read as a file.
    [
      "a directory",
      (dir: string) => (mkdirSync(join(dir, "ca.d")), join(dir, "ca.d")),
      /cannot read .*EISDIR/,
    ],
    [
      "a file without a PEM certificate",
      (dir: string) => (
        writeFileSync(join(dir, "not.pem"), "not a certificate\n"),
        join(dir, "not.pem")
      ),
      /holds no PEM certificate/,
    ],
  ] as const)(
    "api: %s is a configuration error naming REDIS_URL's ?ca=",
    async (_, make, problem) => {
      const path = make(dirname(redis.ca));
      const child = launch("api", testEnv(redis.url, { REDIS_TLS_CA: path }));
      expect(await child.exited).toBe(1);
      const line =
        child
          .output()
          .split("\n")
          .find((text) => text.includes("REDIS_URL: ?ca=")) ?? "";
      expect(line).toMatch(problem);
      expect(line).toContain(path);
    },
  );
});
