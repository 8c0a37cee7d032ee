import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./ports";
import { startProcess, type ManagedProcess } from "./process";
import { waitFor } from "./wait";

export interface TestRedisCluster {
  /** `redis://:<password>@127.0.0.1:<port>` of the first primary: k6-gate's seed node. */
  url: string;
  /** The primaries' ports, the seed's first. */
  ports: number[];
  /** One random password for every node (`requirepass`, and `masterauth` for the bus). */
  password: string;
  /** Stops every node and deletes their data. */
  destroy(): Promise<void>;
}

/**
 * A Redis Cluster of `primaries` real redis-servers (no replicas), each on a free port with
 * a free cluster-bus port (`cluster-port`, so the bus does not land at port + 10000 in the
 * ephemeral range), its own data dir and `nodes.conf`, and one random password in a 0600
 * config file. `redis-cli --cluster create` (password in REDISCLI_AUTH, not argv) spreads
 * the 16384 slots; resolves once every node says `cluster_state:ok`.
 */
export async function startRedisCluster({ primaries = 3 } = {}): Promise<TestRedisCluster> {
  const password = randomBytes(24).toString("hex");
  const root = mkdtempSync(join(tmpdir(), "k6-gate-redis-cluster-"));
  const servers: ManagedProcess[] = [];
  const ports: number[] = [];
  const destroy = async () => {
    await Promise.allSettled(servers.map((server) => server.stop()));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < primaries; i++) {
      const [port, busPort] = [await freePort(), await freePort()];
      const conf = join(root, `redis-${port}.conf`);
      writeFileSync(
        conf,
        [
          `requirepass ${password}`,
          `masterauth ${password}`,
          "cluster-enabled yes",
          `cluster-config-file ${join(root, `nodes-${port}.conf`)}`,
          `cluster-port ${busPort}`,
          "",
        ].join("\n"),
        { mode: 0o600 },
      );
      const server = startProcess(
        "redis-server",
        [
          conf,
          ...["--port", String(port), "--bind", "127.0.0.1", "--dir", root],
          ...["--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"],
        ],
        { name: `redis-cluster:${port}` },
      );
      servers.push(server);
      ports.push(port);
    }
    await Promise.all(servers.map((server) => server.waitForOutput(/Ready to accept connections/)));

    const create = startProcess(
      "redis-cli",
      [
        "--cluster",
        "create",
        ...ports.map((port) => `127.0.0.1:${port}`),
        ...["--cluster-replicas", "0", "--cluster-yes"],
      ],
      { name: "redis-cli --cluster create", env: { ...process.env, REDISCLI_AUTH: password } },
    );
    if ((await create.exited) !== 0)
      throw new Error(`redis-cli --cluster create failed:\n${create.output().slice(-3000)}`);

    const clients = ports.map(
      (port) => new Redis({ host: "127.0.0.1", port, password, maxRetriesPerRequest: 1 }),
    );
    try {
      for (const [i, client] of clients.entries()) {
        await waitFor(
          `cluster_state:ok on 127.0.0.1:${ports[i]}`,
          async () => /cluster_state:ok/.test(await client.cluster("INFO")),
          { timeoutMs: 20_000 },
        );
      }
    } finally {
      for (const client of clients) client.disconnect();
    }
  } catch (error) {
    await destroy();
    throw error;
  }
  return { url: `redis://:${password}@127.0.0.1:${ports[0]}`, ports, password, destroy };
}
