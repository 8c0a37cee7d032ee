import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadApiConfig } from "../../apps/api/src/config";

/**
 * Where k6-gate's data lives (libs/shared/src/redis-target.ts), read through the API's
 * config schema as the process reads it: every mistake stops the start naming its setting.
 */
const target = (env: Record<string, string>) => loadApiConfig(env).redis;
/** The start-up error for `env`, or "" when it starts. */
const refusal = (env: Record<string, string>): string => {
  try {
    loadApiConfig(env);
    return "";
  } catch (error) {
    return (error as Error).message;
  }
};

const dir = mkdtempSync(join(tmpdir(), "k6-gate-redis-target-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("one server", () => {
  it("takes host, port, user, password and database from REDIS_URL", () => {
    expect(target({ REDIS_URL: "redis://k6gate:s%40cret@redis.example:6380/2" })).toMatchObject({
      mode: "standalone",
      nodes: [{ host: "redis.example", port: 6380 }],
      username: "k6gate",
      password: "s@cret",
      db: 2,
      tls: undefined,
      label: "redis.example:6380",
    });
  });

  it("defaults the port to 6379", () => {
    expect(target({ REDIS_URL: "redis://:pw@redis.example" }).nodes).toEqual([
      { host: "redis.example", port: 6379 },
    ]);
  });
});

describe("sentinels", () => {
  it("lists every sentinel, the primary's name and the sentinels' own credentials", () => {
    const redis = target({
      REDIS_URL: "redis://:data-pw@ignored.example:1234/1",
      REDIS_SENTINELS:
        "watcher:sentinel-pw@10.0.0.1:26380, sentinel-b.example:26381,[::1]:26382/k6gate-primary",
    });
    expect(redis).toMatchObject({
      mode: "sentinel",
      nodes: [
        { host: "10.0.0.1", port: 26380 },
        { host: "sentinel-b.example", port: 26381 },
        { host: "::1", port: 26382 },
      ],
      sentinelName: "k6gate-primary",
      sentinelUsername: "watcher",
      sentinelPassword: "sentinel-pw",
      // With sentinels, REDIS_URL gives the data nodes' password and database only.
      password: "data-pw",
      db: 1,
    });
    expect(redis.label).toBe(
      "k6gate-primary via sentinels 10.0.0.1:26380,sentinel-b.example:26381,::1:26382",
    );
    expect(redis.label).not.toContain("pw");
  });

  it("defaults a sentinel's port to 26379 and the name to mymaster", () => {
    const redis = target({
      REDIS_URL: "redis://:pw@127.0.0.1",
      REDIS_SENTINELS: "sentinel-a,sentinel-b:26400,",
    });
    expect(redis.nodes).toEqual([
      { host: "sentinel-a", port: 26379 },
      { host: "sentinel-b", port: 26400 },
    ]);
    expect(redis.sentinelName).toBe("mymaster");
  });

  it("decodes the sentinels' percent-encoded password, and takes a password without a user", () => {
    const redis = target({
      REDIS_URL: "redis://:pw@127.0.0.1",
      REDIS_SENTINELS: ":s%40n%2Ftinel@sentinel-a",
    });
    expect(redis).toMatchObject({
      sentinelUsername: undefined,
      sentinelPassword: "s@n/tinel",
      sentinelName: "mymaster",
      nodes: [{ host: "sentinel-a", port: 26379 }],
    });
  });

  it("reads the former REDIS_SENTINEL_* variables into REDIS_SENTINELS, saying where they belong", () => {
    const config = loadApiConfig({
      REDIS_URL: "redis://:pw@127.0.0.1",
      REDIS_SENTINELS: "sentinel-a:26379",
      REDIS_SENTINEL_NAME: "k6gate-primary",
      REDIS_SENTINEL_PASSWORD: "p@ss",
    });
    expect(config.redis).toMatchObject({
      sentinelName: "k6gate-primary",
      sentinelPassword: "p@ss",
      label: "k6gate-primary via sentinels sentinel-a:26379",
    });
    expect(config.envNotices).toEqual([
      "REDIS_SENTINEL_PASSWORD is k6-gate's former setting, read into REDIS_SENTINELS ([user:password@]host:port,...[/name]). Move it there: REDIS_SENTINEL_PASSWORD is deprecated",
      "REDIS_SENTINEL_NAME is k6-gate's former setting, read into REDIS_SENTINELS ([user:password@]host:port,...[/name]). Move it there: REDIS_SENTINEL_NAME is deprecated",
    ]);
  });

  it("refuses an empty primary set name after the /", () => {
    expect(refusal({ REDIS_URL: "redis://:pw@127.0.0.1", REDIS_SENTINELS: "s-a:26379/" })).toMatch(
      /REDIS_SENTINELS: names no primary set after its \//,
    );
  });

  it("names a sentinel that is not host:port", () => {
    const message = refusal({
      REDIS_URL: "redis://:pw@127.0.0.1",
      REDIS_SENTINELS: "sentinel-a:26379,sentinel-b:port,sentinel-c:70000",
    });
    expect(message).toMatch(/REDIS_SENTINELS: "sentinel-b:port" is not host:port/);
    expect(message).toMatch(/REDIS_SENTINELS: "sentinel-c:70000" is not host:port/);
    expect(message).not.toContain("sentinel-a");
  });

  it("refuses a list without a sentinel", () => {
    expect(refusal({ REDIS_URL: "redis://:pw@127.0.0.1", REDIS_SENTINELS: " , " })).toMatch(
      /REDIS_SENTINELS: names no sentinel/,
    );
  });

  it("refuses sentinels and a Cluster together", () => {
    expect(
      refusal({
        REDIS_URL: "redis://:pw@127.0.0.1?cluster=true",
        REDIS_SENTINELS: "sentinel-a:26379",
        QUEUE_PREFIX: "{k6gate}",
      }),
    ).toMatch(/REDIS_URL: a Cluster has no sentinels: set REDIS_SENTINELS or \?cluster=true/);
  });
});

describe("a Redis Cluster", () => {
  it("takes REDIS_URL as the seed node when QUEUE_PREFIX has a hash tag", () => {
    expect(
      target({
        REDIS_URL: "redis://:pw@node-1.example:7000?cluster=true",
        QUEUE_PREFIX: "{k6gate}",
      }),
    ).toMatchObject({
      mode: "cluster",
      nodes: [{ host: "node-1.example", port: 7000 }],
      label: "cluster at node-1.example:7000",
    });
  });

  it("refuses a QUEUE_PREFIX without a hash tag, naming QUEUE_PREFIX and the fix", () => {
    expect(
      refusal({
        REDIS_URL: "redis://:pw@127.0.0.1:7000?cluster=true",
        QUEUE_PREFIX: "team-a",
      }),
    ).toMatch(/QUEUE_PREFIX: .*one hash tag: use \{team-a\}/);
  });

  it("refuses a database other than 0", () => {
    expect(
      refusal({
        REDIS_URL: "redis://:pw@127.0.0.1:7000/3?cluster=true",
        QUEUE_PREFIX: "{k6gate}",
      }),
    ).toMatch(/REDIS_URL: a Redis Cluster has database 0 only/);
  });

  it("reads the former REDIS_CLUSTER into REDIS_URL, saying where it belongs", () => {
    const config = loadApiConfig({
      REDIS_URL: "redis://:pw@node-1.example:7000",
      REDIS_CLUSTER: "true",
      QUEUE_PREFIX: "{k6gate}",
    });
    expect(config.redis.mode).toBe("cluster");
    expect(config.envNotices).toEqual([
      "REDIS_CLUSTER is k6-gate's former setting, read into REDIS_URL (?cluster=true). Move it there: REDIS_CLUSTER is deprecated",
    ]);
  });

  it("refuses a parameter it does not read, and a cluster= that is not true or false", () => {
    const message = refusal({ REDIS_URL: "redis://:pw@127.0.0.1?cluster=yes&tls=1" });
    expect(message).toMatch(
      /REDIS_URL: \?tls is not a parameter k6-gate reads \(ca, cluster, allow_unauthenticated\)/,
    );
    expect(message).toMatch(/REDIS_URL: \?cluster=yes is not true or false/);
  });
});

describe("TLS", () => {
  const certificate = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  const pem = join(dir, "ca.pem");
  writeFileSync(pem, certificate);

  it("reads the CA bundle for rediss://", () => {
    expect(target({ REDIS_URL: `rediss://:pw@redis.example:6380?ca=${pem}` }).tls).toEqual({
      ca: certificate,
    });
    // k6-gate's former REDIS_TLS_CA is read as ?ca=.
    expect(target({ REDIS_URL: "rediss://:pw@redis.example:6380", REDIS_TLS_CA: pem }).tls).toEqual(
      { ca: certificate },
    );
    // rediss:// without a CA: TLS with the system's trust store.
    expect(target({ REDIS_URL: "rediss://:pw@redis.example:6380" }).tls).toEqual({
      ca: undefined,
    });
  });

  it("refuses ?ca= with redis://", () => {
    expect(refusal({ REDIS_URL: `redis://:pw@redis.example:6380?ca=${pem}` })).toMatch(
      /REDIS_URL: has \?ca= but is redis:\/\/ \(use rediss:\/\/ for TLS\)/,
    );
  });

  it("refuses a CA file it cannot read, naming the file", () => {
    const missing = join(dir, "missing.pem");
    expect(refusal({ REDIS_URL: `rediss://:pw@redis.example?ca=${missing}` })).toMatch(
      new RegExp(`REDIS_URL: \\?ca=: cannot read ${missing}: ENOENT`),
    );
    // A directory is not readable as a file either (and root reads files whatever their mode).
    expect(refusal({ REDIS_URL: `rediss://:pw@redis.example?ca=${dir}` })).toMatch(
      new RegExp(`REDIS_URL: \\?ca=: cannot read ${dir}: EISDIR`),
    );
  });

  it("refuses a CA file that holds no certificate", () => {
    const key = join(dir, "key.pem");
    writeFileSync(key, "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n");
    expect(refusal({ REDIS_URL: `rediss://:pw@redis.example?ca=${key}` })).toMatch(
      new RegExp(`REDIS_URL: \\?ca=${key} holds no PEM certificate`),
    );
  });
});

describe("the password", () => {
  it("comes from REDIS_PASSWORD when REDIS_URL carries none", () => {
    expect(
      target({ REDIS_URL: "redis://127.0.0.1:6379", REDIS_PASSWORD: "from-secret" }).password,
    ).toBe("from-secret");
  });

  it("may be in both places when they agree", () => {
    expect(
      target({ REDIS_URL: "redis://:same@127.0.0.1:6379", REDIS_PASSWORD: "same" }).password,
    ).toBe("same");
  });

  it("is refused when REDIS_URL and REDIS_PASSWORD differ, without showing either", () => {
    const message = refusal({
      REDIS_URL: "redis://:one-password@127.0.0.1:6379",
      REDIS_PASSWORD: "another-password",
    });
    expect(message).toMatch(
      /REDIS_PASSWORD: REDIS_URL carries a different password; set the password in one place/,
    );
    expect(message).not.toMatch(/one-password|another-password/);
  });

  it("is refused when they differ with sentinels too", () => {
    expect(
      refusal({
        REDIS_URL: "redis://:one@127.0.0.1",
        REDIS_PASSWORD: "two",
        REDIS_SENTINELS: "127.0.0.1:26379",
      }),
    ).toMatch(/REDIS_PASSWORD: REDIS_URL carries a different password/);
  });
});

describe("REDIS_URL", () => {
  it("refuses a scheme other than redis:// or rediss://", () => {
    expect(refusal({ REDIS_URL: "http://127.0.0.1:6379" })).toMatch(
      /REDIS_URL: must start with redis:\/\/ or rediss:\/\/ \(TLS\), not http:\/\//,
    );
  });

  it("refuses a database that is not a number", () => {
    expect(refusal({ REDIS_URL: "redis://:pw@127.0.0.1:6379/queue" })).toMatch(
      /REDIS_URL: "\/queue" is not a database number/,
    );
  });
});

describe("?allow_unauthenticated", () => {
  it("is false unless REDIS_URL says true", () => {
    expect(target({ REDIS_URL: "redis://:pw@127.0.0.1" }).allowUnauthenticated).toBe(false);
    expect(
      target({ REDIS_URL: "redis://127.0.0.1?allow_unauthenticated=false" }).allowUnauthenticated,
    ).toBe(false);
    expect(
      target({ REDIS_URL: "redis://127.0.0.1:6379?allow_unauthenticated=true" }),
    ).toMatchObject({
      mode: "standalone",
      nodes: [{ host: "127.0.0.1", port: 6379 }],
      allowUnauthenticated: true,
      label: "127.0.0.1:6379",
    });
  });

  it("refuses a value that is not true or false", () => {
    expect(refusal({ REDIS_URL: "redis://127.0.0.1?allow_unauthenticated=yes" })).toMatch(
      /REDIS_URL: \?allow_unauthenticated=yes is not true or false/,
    );
  });

  it("goes with sentinels, a Cluster and TLS, changing nothing else", () => {
    const certificate = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const pem = join(dir, "allow-ca.pem");
    writeFileSync(pem, certificate);
    expect(
      target({
        REDIS_URL: "redis://:data-pw@ignored.example/1?allow_unauthenticated=true",
        REDIS_SENTINELS: "sentinel-a:26379/k6gate-primary",
      }),
    ).toMatchObject({
      mode: "sentinel",
      nodes: [{ host: "sentinel-a", port: 26379 }],
      sentinelName: "k6gate-primary",
      password: "data-pw",
      db: 1,
      allowUnauthenticated: true,
    });
    expect(
      target({
        REDIS_URL: "redis://node-1.example:7000?cluster=true&allow_unauthenticated=true",
        QUEUE_PREFIX: "{k6gate}",
      }),
    ).toMatchObject({
      mode: "cluster",
      nodes: [{ host: "node-1.example", port: 7000 }],
      allowUnauthenticated: true,
      label: "cluster at node-1.example:7000",
    });
    expect(
      target({ REDIS_URL: `rediss://redis.example:6380?allow_unauthenticated=true&ca=${pem}` }),
    ).toMatchObject({
      mode: "standalone",
      nodes: [{ host: "redis.example", port: 6380 }],
      tls: { ca: certificate },
      allowUnauthenticated: true,
    });
  });

  it("reads the former REDIS_ALLOW_UNAUTHENTICATED into REDIS_URL, saying where it belongs", () => {
    const config = loadApiConfig({
      REDIS_URL: "redis://127.0.0.1:6379",
      REDIS_ALLOW_UNAUTHENTICATED: "true",
    });
    expect(config.redis.allowUnauthenticated).toBe(true);
    expect(config.REDIS_URL).toBe("redis://127.0.0.1:6379?allow_unauthenticated=true");
    expect(config).not.toHaveProperty("REDIS_ALLOW_UNAUTHENTICATED");
    expect(config.envNotices).toEqual([
      "REDIS_ALLOW_UNAUTHENTICATED is k6-gate's former setting, read into REDIS_URL (?allow_unauthenticated=true). Move it there: REDIS_ALLOW_UNAUTHENTICATED is deprecated",
    ]);
    // Beside the other parameters; REDIS_URL's own wins, and the notice says so.
    expect(
      loadApiConfig({
        REDIS_URL: "redis://127.0.0.1?cluster=true",
        QUEUE_PREFIX: "{k6gate}",
        REDIS_ALLOW_UNAUTHENTICATED: "true",
      }).redis,
    ).toMatchObject({ mode: "cluster", allowUnauthenticated: true });
    const both = loadApiConfig({
      REDIS_URL: "redis://127.0.0.1?allow_unauthenticated=false",
      REDIS_ALLOW_UNAUTHENTICATED: "true",
    });
    expect(both.redis.allowUnauthenticated).toBe(false);
    expect(both.envNotices).toEqual([
      "REDIS_ALLOW_UNAUTHENTICATED is ignored: REDIS_URL has ?allow_unauthenticated=",
    ]);
    // A value the former flag refused is still refused, now naming REDIS_URL.
    expect(refusal({ REDIS_URL: "redis://127.0.0.1", REDIS_ALLOW_UNAUTHENTICATED: "yes" })).toMatch(
      /REDIS_URL: \?allow_unauthenticated=yes is not true or false/,
    );
  });
});
