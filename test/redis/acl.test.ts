// The Redis ACL user of deploy/redis/k6gate.acl (issue 16). Every e2e test runs k6-gate as
// that user (libs/testkit/src/redis.ts), which shows the list is enough; here, that it is no
// more: commands outside it, keys outside the prefix and other channels are refused.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACL_USER, aclUserLine } from "@k6-gate/testkit/redis";
import { passingScript } from "@k6-gate/testkit/scripts";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

/** Commands that must never be granted: they reach beyond k6-gate's keys or run the server. */
const FORBIDDEN = [
  "flushall",
  "flushdb",
  "config",
  "keys",
  "scan",
  "debug",
  "script",
  "function",
  "acl",
  "shutdown",
  "monitor",
  "migrate",
  "move",
  "swapdb",
  "restore",
  "replicaof",
  "slaveof",
  "save",
  "bgsave",
  "bgrewriteaof",
  "module",
  "sort",
  "client|kill",
];

const stack = useStack({ redis: { aclPrefix: "k6gate" }, api: false, workers: 0 });
/** k6-gate's ACL user, the line as shipped (QUEUE_PREFIX=k6gate, the default). */
let user: Redis;

beforeAll(async () => {
  user = new Redis(stack.redis.url, { maxRetriesPerRequest: 0 });
});
afterAll(async () => {
  user?.disconnect();
});

/** A flat [field, value, ...] reply as pairs. */
const pairsOf = (flat: unknown[]): [string, unknown][] =>
  Array.from({ length: flat.length / 2 }, (_, i) => [String(flat[2 * i]), flat[2 * i + 1]]);

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => "allowed",
    (error: Error) => error.message,
  );

describe("deploy/redis/k6gate.acl", () => {
  it("grants named commands only, on the prefix's keys and channels", () => {
    const rules = aclUserLine().split(" ");
    expect(rules.slice(0, 2)).toEqual(["user", ACL_USER]);
    expect(rules).toEqual(
      expect.arrayContaining(["~k6gate:*", "~{k6gate}:*", "&k6gate:*", "&{k6gate}:*"]),
    );
    // Keys and channels are reset before they are granted; nothing is granted by category.
    expect(rules.indexOf("resetkeys")).toBeLessThan(rules.indexOf("~k6gate:*"));
    expect(rules.indexOf("resetchannels")).toBeLessThan(rules.indexOf("&k6gate:*"));
    const granted = rules.filter((rule) => rule.startsWith("+"));
    expect(rules.indexOf("-@all")).toBeLessThan(rules.indexOf(granted[0] ?? ""));
    expect(granted.filter((rule) => rule.startsWith("+@"))).toEqual([]);
    expect(granted.filter((rule) => FORBIDDEN.includes(rule.slice(1)))).toEqual([]);
    // No password in the repository: the harness and the operator add it.
    expect(rules.filter((rule) => /^[>#<!]|^nopass$/.test(rule))).toEqual([]);
  });

  it("is refused every command outside its list", async () => {
    const tries: [string, ...string[]][] = [
      ["FLUSHALL"],
      ["FLUSHDB"],
      ["CONFIG", "GET", "requirepass"],
      ["CONFIG", "SET", "maxmemory", "1"],
      ["KEYS", "*"],
      ["SCAN", "0"],
      // (DEBUG: Redis 7 refuses it to everyone unless enable-debug-command; not granted either.)
      ["OBJECT", "ENCODING", "k6gate:acl-test"],
      ["MOVE", "k6gate:acl-test", "1"],
      ["SCRIPT", "FLUSH"],
      ["ACL", "LIST"],
      ["CLIENT", "KILL", "TYPE", "normal"],
      ["SWAPDB", "0", "1"],
      ["SHUTDOWN", "NOSAVE"],
    ];
    for (const [command, ...args] of tries) {
      expect(await refusal(user.call(command, ...args)), `${command} ${args.join(" ")}`).toMatch(
        /^NOPERM/,
      );
    }
    expect(await user.ping()).toBe("PONG");
  });

  it("is refused keys outside its prefix, in commands and in scripts", async () => {
    expect(await user.set("k6gate:acl-test", "1")).toBe("OK");
    expect(await user.set("{k6gate}:acl-test", "1")).toBe("OK");
    for (const key of ["other:key", "k6gate-other:key", "bull:k6-runs:wait", "k6gate"]) {
      expect(await refusal(user.set(key, "1")), key).toMatch(/^NOPERM/);
      expect(await refusal(user.get(key)), key).toMatch(/^NOPERM/);
    }
    // A script's own calls are checked too, keys it was given or not.
    const setKey = "return redis.call('SET', KEYS[1], '1')";
    expect(await user.eval(setKey, 1, "k6gate:acl-script")).toBe("OK");
    expect(await refusal(user.eval(setKey, 1, "other:key"))).toMatch(/NOPERM/);
    expect(await refusal(user.eval("return redis.call('SET', 'other:key', '1')", 0))).toMatch(
      /can't access/,
    );
    const admin = new Redis(stack.redis.adminUrl);
    try {
      expect(await admin.exists("other:key", "k6gate-other:key", "bull:k6-runs:wait")).toBe(0);
    } finally {
      admin.disconnect();
    }
  });

  it("publishes and subscribes on the prefix's channels only", async () => {
    expect(await user.publish("k6gate:gate:finished", "x")).toBe(0);
    expect(await refusal(user.publish("other", "x"))).toMatch(/^NOPERM/);
    const subscriber = new Redis(stack.redis.url, { maxRetriesPerRequest: 0 });
    try {
      expect(await subscriber.subscribe("k6gate:gate:stop")).toBe(1);
      expect(await refusal(subscriber.subscribe("other"))).toMatch(/^NOPERM/);
    } finally {
      subscriber.disconnect();
    }
  });

  it("is all k6-gate needs with the default QUEUE_PREFIX: a run judged, workers counted", async () => {
    const gate = stack.testGate();
    delete gate.env.QUEUE_PREFIX; // k6gate, the line as shipped
    const admin = new Redis(stack.redis.adminUrl);
    await admin.call("ACL", "LOG", "RESET");
    try {
      const api = await gate.startApi();
      await gate.startWorker();
      const response = await postWebhook(
        api.url,
        payloadOf({ checksum: "acl-1", metadata: { script: passingScript(stack.target.port) } }),
      );
      expect(response.status).toBe(200);
      expect(response.text).toContain("PASS test/podinfo");
      // BullMQ names worker connections (CLIENT SETNAME); the API counts them (CLIENT LIST).
      const workers = await waitFor("the worker counted in /metrics", async () => {
        const metrics = await (await fetch(`${api.url}/metrics`)).text();
        const count = Number(/^k6gate_workers (\d+)/m.exec(metrics)?.[1] ?? 0);
        return count > 0 ? count : undefined;
      });
      expect(workers).toBe(1);
      // The queue board (bull-board reads INFO and the queue's keys).
      const board = await fetch(`${api.url}/admin/queues/api/queues?activeQueue=k6-runs`);
      expect(board.status).toBe(200);
      for (const p of [api, ...gate.workers]) expect(p.output()).not.toContain("NOPERM");
      // Nothing k6-gate did was refused. (ioredis's CLIENT SETINFO, which it ignores when
      // refused, is unknown to Redis 7.0 and refused by name on 7.2+.)
      const refused = ((await admin.call("ACL", "LOG")) as string[][])
        .map((entry): Record<string, unknown> => Object.fromEntries(pairsOf(entry)))
        .filter((entry) => entry.object !== "client|setinfo");
      expect(refused).toEqual([]);
    } finally {
      admin.disconnect();
    }
  });
});
