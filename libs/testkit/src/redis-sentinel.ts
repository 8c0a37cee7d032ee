import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { startProcess, type ManagedProcess } from "./process";
import { freePort } from "./ports";
import { ACL_USER, aclUserLine } from "./redis";
import { waitFor } from "./wait";

export interface TestSentinelSet {
  /**
   * Env for k6-gate processes: REDIS_URL, REDIS_SENTINELS, REDIS_SENTINEL_NAME,
   * REDIS_SENTINEL_PASSWORD. REDIS_URL names the ACL user of deploy/redis/k6gate.acl (keys
   * and channels `test-*`, as testEnv's prefixes), as startRedis's `url` does.
   */
  env: Record<string, string>;
  /** The `default` user's password on the data servers (`requirepass`, `masterauth`): allowed everything. */
  password: string;
  /** The ACL user's password (in env.REDIS_URL). */
  aclPassword: string;
  /** The sentinels' own password (`requirepass` of each sentinel, REDIS_SENTINEL_PASSWORD). */
  sentinelPassword: string;
  name: string;
  /** The data servers' ports, the first one the initial primary. */
  serverPorts: number[];
  sentinelPorts: number[];
  /** The current primary's port, as the sentinels report it. */
  primaryPort(): Promise<number>;
  /**
   * A redis:// URL of the current primary as the `default` user (allowed every command), for
   * a test's own inspection client.
   */
  primaryUrl(): Promise<string>;
  /**
   * Kills the current primary (SIGKILL by default) and resolves once the sentinels report
   * another, every sentinel done with the failover; the old one stays down.
   * `promotedAfterMs`: from the kill until a majority of the sentinels named the new one.
   */
  failover(
    signal?: NodeJS.Signals,
  ): Promise<{ oldPort: number; newPort: number; promotedAfterMs: number }>;
  /** Starts every server that failover() stopped again (it rejoins as a replica). */
  restartStopped(): Promise<void>;
  /** Every server's and sentinel's log so far, for a failing test's message. */
  output(): string;
  destroy(): Promise<void>;
}

interface Server {
  port: number;
  conf: string;
  /** A sentinel's run id (`sentinel myid`). */
  id?: string;
  process?: ManagedProcess;
}

const HOST = "127.0.0.1";
// Small, so a failover takes seconds: a primary is "down" after 1 s without an answer.
const DOWN_AFTER_MS = 1000;
// Also how long a sentinel waits before trying again after a failed election (twice this).
const FAILOVER_TIMEOUT_MS = 3000;

/** A client of our own for one server or sentinel: no retries, so a dead one fails fast. */
function client(port: number, password: string): Redis {
  return new Redis({
    host: HOST,
    port,
    password,
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    commandTimeout: 1000,
    retryStrategy: () => null,
  });
}

/** A flat [field, value, ...] reply as a map. */
function fieldsOf(fields: unknown[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let at = 0; at + 1 < fields.length; at += 2)
    map.set(String(fields[at]), String(fields[at + 1]));
  return map;
}

/** Runs `command` on a fresh connection; undefined when the server does not answer. */
async function ask(port: number, password: string, ...command: string[]): Promise<unknown> {
  const redis = client(port, password);
  redis.on("error", () => {});
  try {
    await redis.connect();
    const [name, ...args] = command as [string, ...string[]];
    return await redis.call(name, ...args);
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

/**
 * Three redis-servers (a primary and two replicas) and three sentinels watching them with a
 * quorum of 2, all on 127.0.0.1, every one with random passwords (the data servers share
 * one for `default` and one for k6-gate's ACL user, the sentinels have another) kept in
 * 0600 config files in 0700 temp dirs. Resolves once both replicas are in sync and every
 * sentinel knows the primary, both replicas and the other two sentinels, so a failover can
 * start at once.
 */
export async function startSentinelSet({
  name = "mymaster",
}: { name?: string } = {}): Promise<TestSentinelSet> {
  const root = mkdtempSync(join(tmpdir(), "k6-gate-sentinel-"));
  const password = randomBytes(24).toString("hex");
  const aclPassword = randomBytes(24).toString("hex");
  const sentinelPassword = randomBytes(24).toString("hex");
  const servers: Server[] = [];
  const sentinels: Server[] = [];
  /** Servers failover() killed. */
  const stopped = new Set<Server>();

  const startServer = async (server: Server) => {
    server.process = startProcess("redis-server", [server.conf], { name: `redis:${server.port}` });
    await server.process.waitForOutput(/Ready to accept connections/);
  };
  const startSentinel = async (sentinel: Server) => {
    sentinel.process = startProcess("redis-sentinel", [sentinel.conf], {
      name: `sentinel:${sentinel.port}`,
    });
    await sentinel.process.waitForOutput(/\+monitor master/);
  };

  const destroy = async () => {
    await Promise.all(
      [...sentinels, ...servers].map(async (each) => {
        await each.process?.stop("SIGKILL");
      }),
    );
    rmSync(root, { recursive: true, force: true });
  };

  try {
    for (let index = 0; index < 3; index++) {
      const port = await freePort();
      const dir = join(root, `redis-${port}`);
      mkdirSync(dir, { mode: 0o700 });
      const conf = join(dir, "redis.conf");
      const lines = [
        `port ${port}`,
        `bind ${HOST}`,
        `dir ${dir}`,
        `requirepass ${password}`,
        `masterauth ${password}`,
        `${aclUserLine("test-*")} >${aclPassword}`,
        `save ""`,
        "appendonly no",
        "maxmemory-policy noeviction",
        // A replica syncs at once, not after the default 5 s wait for more replicas.
        "repl-diskless-sync-delay 0",
        `replica-announce-ip ${HOST}`,
      ];
      if (index > 0) lines.push(`replicaof ${HOST} ${servers[0]!.port}`);
      // Writable: sentinels make the servers rewrite it (CONFIG REWRITE) when they reconfigure them.
      writeFileSync(conf, lines.join("\n") + "\n", { mode: 0o600 });
      servers.push({ port, conf });
    }
    await Promise.all(servers.map(startServer));
    const primary = servers[0]!;

    for (let index = 0; index < 3; index++)
      sentinels.push({ port: await freePort(), conf: "", id: randomBytes(20).toString("hex") });
    for (const sentinel of sentinels) {
      const { port } = sentinel;
      const dir = join(root, `sentinel-${port}`);
      mkdirSync(dir, { mode: 0o700 });
      const conf = join(dir, "sentinel.conf");
      // Its own writable file: a sentinel rewrites it with what it learns.
      writeFileSync(
        conf,
        [
          `port ${port}`,
          `bind ${HOST}`,
          `dir ${dir}`,
          `sentinel announce-ip ${HOST}`,
          `requirepass ${sentinelPassword}`,
          // The sentinels talk to each other too, and each asks for a password.
          `sentinel sentinel-pass ${sentinelPassword}`,
          `sentinel monitor ${name} ${HOST} ${primary.port} 2`,
          `sentinel auth-pass ${name} ${password}`,
          `sentinel down-after-milliseconds ${name} ${DOWN_AFTER_MS}`,
          `sentinel failover-timeout ${name} ${FAILOVER_TIMEOUT_MS}`,
          `sentinel parallel-syncs ${name} 2`,
          // Each knows the others from the start rather than from their hello messages
          // (every 2 s), so the set is ready for a failover sooner.
          `sentinel myid ${sentinel.id}`,
          ...sentinels
            .filter((other) => other !== sentinel)
            .map((other) => `sentinel known-sentinel ${name} ${HOST} ${other.port} ${other.id}`),
        ].join("\n") + "\n",
        { mode: 0o600 },
      );
      sentinel.conf = conf;
    }

    await Promise.all(servers.slice(1).map((replica) => waitForReplicaLink(replica.port)));
    await Promise.all(sentinels.map(startSentinel));
    await settled((port) => port === primary.port, { replicas: 2 });
  } catch (error) {
    await destroy();
    throw error;
  }

  async function waitForReplicaLink(port: number) {
    await waitFor(
      `replica ${port} in sync with its primary`,
      async () => {
        const info = await ask(port, password, "INFO", "replication");
        return (
          typeof info === "string" &&
          /role:slave/.test(info) &&
          /master_link_status:up/.test(info) &&
          !/master_sync_in_progress:1/.test(info)
        );
      },
      { timeoutMs: 20_000, everyMs: 50 },
    );
  }

  /** The primary's port per each answering sentinel. */
  async function reported(): Promise<number[]> {
    const answers = await Promise.all(
      sentinels.map((sentinel) =>
        ask(sentinel.port, sentinelPassword, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name),
      ),
    );
    return answers.flatMap((answer) =>
      Array.isArray(answer) && answer.length === 2 ? [Number(answer[1])] : [],
    );
  }

  /** The port at least two of the three sentinels name, if any. */
  function majority(ports: number[]): number | undefined {
    return ports.find((port) => ports.filter((each) => each === port).length >= 2);
  }

  /** The port a majority of the sentinels name, once they agree. */
  async function agreedPort(timeoutMs = 20_000): Promise<number> {
    return waitFor(
      "a majority of the sentinels to agree on the primary",
      async () => majority(await reported()),
      { timeoutMs, everyMs: 50 },
    );
  }

  /**
   * Until every sentinel names the same primary, one `acceptable`, as up and not failing
   * over, and knows the other two sentinels and at least `replicas` replicas that are up:
   * then the set can fail over again at once. Resolves with that primary's port.
   */
  async function settled(
    acceptable: (port: number) => boolean,
    { replicas }: { replicas: number },
  ): Promise<number> {
    let last = "";
    try {
      return await waitFor(
        `every sentinel to settle on one primary with ${replicas} replica(s)`,
        async () => {
          const views = await Promise.all(
            sentinels.map(async (sentinel) => {
              const fields = await ask(sentinel.port, sentinelPassword, "SENTINEL", "MASTER", name);
              const replicaFields = await ask(
                sentinel.port,
                sentinelPassword,
                "SENTINEL",
                "REPLICAS",
                name,
              );
              if (!Array.isArray(fields) || !Array.isArray(replicaFields))
                return { sentinel: sentinel.port, ok: false, port: 0, view: "no answer" };
              const master = fieldsOf(fields);
              const up = replicaFields
                .map((each) => fieldsOf(each as unknown[]))
                .filter((replica) => replica.get("flags") === "slave");
              const port = Number(master.get("port"));
              const ok =
                acceptable(port) &&
                master.get("flags") === "master" &&
                master.get("num-other-sentinels") === "2" &&
                up.length >= replicas;
              const view = `primary ${master.get("port")} ${master.get("flags")}, ${up.length} replica(s) up, ${master.get("num-other-sentinels")} other sentinels`;
              return { sentinel: sentinel.port, ok, port, view };
            }),
          );
          last = views.map(({ sentinel, view }) => `sentinel ${sentinel}: ${view}`).join("; ");
          const [first] = views;
          return views.every(({ ok, port }) => ok && port === first?.port) && first?.port;
        },
        { timeoutMs: 30_000, everyMs: 100 },
      );
    } catch (error) {
      throw new Error(`${(error as Error).message} (last seen: ${last})`, { cause: error });
    }
  }

  const primaryPort = () => agreedPort();
  const sentinelList = sentinels.map(({ port }) => `${HOST}:${port}`).join(",");

  return {
    env: {
      // With sentinels only the scheme, user, password and database of this URL count.
      REDIS_URL: `redis://${ACL_USER}:${aclPassword}@${HOST}:${servers[0]!.port}`,
      REDIS_SENTINELS: sentinelList,
      REDIS_SENTINEL_NAME: name,
      REDIS_SENTINEL_PASSWORD: sentinelPassword,
    },
    password,
    aclPassword,
    sentinelPassword,
    name,
    serverPorts: servers.map(({ port }) => port),
    sentinelPorts: sentinels.map(({ port }) => port),
    primaryPort,
    primaryUrl: async () => `redis://:${password}@${HOST}:${await primaryPort()}`,
    async failover(signal = "SIGKILL") {
      const oldPort = await primaryPort();
      const old = servers.find((server) => server.port === oldPort);
      if (!old?.process) throw new Error(`the sentinels name ${oldPort}, not one of this set`);
      const started = Date.now();
      stopped.add(old);
      await old.process.stop(signal, 5000);
      // A majority names the new primary: the promoted replica already answers as one.
      await waitFor(
        `the sentinels to promote a replica after ${oldPort} went down`,
        async () => {
          const port = majority(await reported());
          return port !== oldPort && port;
        },
        { timeoutMs: 30_000, everyMs: 25 },
      );
      const promotedAfterMs = Date.now() - started;
      // Not over until every sentinel is done with it: one still failing over would not
      // take part in the next failover at once. (Rarely, a quick second failover moves the
      // primary on once more: the port returned is the one they settle on.)
      const live = (port: number) =>
        servers.some((server) => server.port === port && !stopped.has(server));
      const newPort = await settled(live, { replicas: 1 });
      return { oldPort, newPort, promotedAfterMs };
    },
    async restartStopped() {
      const again = [...stopped];
      stopped.clear();
      // It rejoins as a replica of the current primary, as a restarted pod's init script
      // does by asking the sentinels. Left as the primary it went down as, the sentinels
      // would turn it into a replica only after some 10 s.
      const current = await primaryPort();
      for (const server of again) {
        const lines = readFileSync(server.conf, "utf8")
          .split("\n")
          .filter((line) => line.trim() && !/^\s*(replicaof|slaveof)\s/i.test(line));
        lines.push(`replicaof ${HOST} ${current}`);
        writeFileSync(server.conf, lines.join("\n") + "\n", { mode: 0o600 });
      }
      await Promise.all(again.map(startServer));
      await Promise.all(again.map((server) => waitForReplicaLink(server.port)));
      await settled((port) => port === current, { replicas: servers.length - 1 });
    },
    output: () =>
      [...servers, ...sentinels]
        .map(
          (each) =>
            `--- ${each.id ? "sentinel" : "redis"}:${each.port}\n${each.process?.output() ?? ""}`,
        )
        .join("\n"),
    destroy,
  };
}
