// Upgrades keep what is in Redis: data written by version N is read and served by N+1.
// Each test/fixtures/redis-v<N>.json was written by the code of release N
// (test/fixtures/make-redis-fixture.ts): a run passed, a run failed whose verdict Flagger
// never received, a run queued with its job waiting. Loaded into a fresh redis-server,
// this version's API must serve them as N recorded them, hand out the undelivered verdict,
// and this version's worker must run the queued one while a retried call attaches to it.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import type { RunRecord } from "@k6-gate/shared";
import type { RedisFixture } from "../fixtures/make-redis-fixture";
import { ROOT } from "@k6-gate/testkit/paths";
import { postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

const FIXTURES = join(ROOT, "test", "fixtures");
const files = readdirSync(FIXTURES)
  .filter((file) => /^redis-v\d+\.\d+\.\d+\.json$/.test(file))
  .sort();

/** Writes every key of a fixture back, with the TTL it had left when it was dumped. */
async function load(url: string, fixture: RedisFixture): Promise<void> {
  const redis = new Redis(url);
  try {
    for (const [key, dump] of Object.entries(fixture.keys)) {
      switch (dump.type) {
        case "string":
          await redis.set(key, dump.value);
          break;
        case "hash":
          await redis.hset(key, dump.value);
          break;
        case "list":
          if (dump.value.length) await redis.rpush(key, ...dump.value);
          break;
        case "set":
          if (dump.value.length) await redis.sadd(key, ...dump.value);
          break;
        case "zset":
          for (const [member, score] of dump.value) await redis.zadd(key, score, member);
          break;
        case "stream":
          for (const [id, fields] of dump.value) await redis.xadd(key, id, ...fields);
          break;
      }
      if (dump.ttlMs > 0) await redis.pexpire(key, dump.ttlMs);
    }
  } finally {
    await redis.quit();
  }
}

/** An instant as the JSON serves it: ISO 8601 (0.1.0 served epoch ms; the data is the same). */
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The fields of a run's JSON view that release 0.1.0 already served. */
function servedAs(record: RunRecord) {
  return {
    id: record.id,
    runKey: record.runKey,
    namespace: record.namespace,
    name: record.name,
    phase: record.phase,
    checksum: record.checksum,
    status: record.status,
    attempt: record.attempt,
    verdict: record.verdict,
    outcome: record.outcome,
    reason: record.reason,
    enqueuedAt: iso(record.enqueuedAt),
    startedAt: iso(record.startedAt),
    finishedAt: iso(record.finishedAt),
    thresholds: record.result?.thresholds ?? [],
    metrics: record.result?.metrics ?? null,
  };
}

it("has a fixture of the current release's Redis data (write it with make-redis-fixture.ts)", () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    version: string;
  };
  expect(files.length).toBeGreaterThan(0);
  // The newest fixture is this version's or an older one; never one from the future.
  const newest = (files.at(-1) ?? "").replace(/^redis-v|\.json$/g, "");
  const asNumber = (v: string) => v.split(".").reduce((n, part) => n * 1000 + Number(part), 0);
  expect(asNumber(newest)).toBeLessThanOrEqual(asNumber(version));
});

describe.each(files)("Redis data written by %s", (file) => {
  const fixture = JSON.parse(readFileSync(join(FIXTURES, file), "utf8")) as RedisFixture;
  const { passed, failed, queued } = fixture.runs;
  const stack = useStack({
    // The ACL user with the fixture's own prefix (the file's line as shipped for `k6gate`).
    redis: { aclPrefix: fixture.prefix },
    workers: 0,
    // The data in Redis before the API starts; the fixture's prefix, and a retention long
    // enough for data of any age (a fixture is a snapshot: its runs get older with every
    // day the repository lives).
    env: async ({ redis }) => {
      await load(redis.url, fixture);
      return { QUEUE_PREFIX: fixture.prefix, HISTORY_MAX_AGE: "36500d" };
    },
  });

  const getJson = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${stack.api.url}${path}`);
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  };

  it("serves the finished runs as they were recorded, with their output", async () => {
    const { runs } = await getJson<{ runs: unknown[] }>("/api/runs?namespace=test&name=podinfo");
    expect(runs).toMatchObject([servedAs(failed.record), servedAs(passed.record)]);
    for (const run of [passed, failed]) {
      expect(await getJson(`/api/runs/${run.id}`)).toMatchObject(servedAs(run.record));
      const { output } = await getJson<{ output: string }>(`/api/runs/${run.id}/output`);
      expect(output).toBe(run.output);
    }
  });

  it("lists the canaries, the queued run counted as queued", async () => {
    const { canaries } = await getJson<{ canaries: Record<string, unknown>[] }>("/api/canaries");
    expect(canaries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ namespace: "test", name: "podinfo", queued: 0, running: 0 }),
        expect.objectContaining({ namespace: "test", name: "checkout", queued: 1, running: 0 }),
      ]),
    );
    expect(await getJson(`/api/runs/${queued.id}`)).toMatchObject(servedAs(queued.record));
  });

  it("hands the undelivered verdict to the next call of that check, without a new run", async () => {
    const res = await postWebhook(stack.api.url, failed.payload, {
      headers: { accept: "application/json" },
    });
    expect(res.status).toBe(422);
    const body = JSON.parse(res.text) as { verdict: string; run: { id: string } };
    expect(body).toMatchObject({ verdict: "fail", run: { id: failed.id } });
    const { runs } = await getJson<{ runs: unknown[] }>("/api/runs?namespace=test&name=podinfo");
    expect(runs).toHaveLength(2);
  });

  it("runs the queued run on this version's worker; the next call of that check gets its verdict", async () => {
    await stack.gate.startWorker({ WORKER_METRICS_PORT: "0" });
    const payload = queued.payload as { metadata: Record<string, string> };
    const res = await postWebhook(
      stack.api.url,
      { ...payload, metadata: { ...payload.metadata, wait_timeout: "50s" } },
      { headers: { accept: "application/json" } },
    );
    expect(res.status, res.text).toBe(200);
    const body = JSON.parse(res.text) as { verdict: string; run: Record<string, unknown> };
    expect(body.verdict).toBe("pass");
    expect(body.run).toMatchObject({
      id: queued.id,
      status: "finished",
      outcome: "passed",
      enqueuedAt: iso(queued.record.enqueuedAt),
    });
    const { runs } = await getJson<{ runs: { id: string }[] }>(
      "/api/runs?namespace=test&name=checkout",
    );
    expect(runs.map((run) => run.id)).toEqual([queued.id]);
  });
});
