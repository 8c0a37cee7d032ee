import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { TOOLS_BIN } from "@k6-gate/testkit/paths";
import { freePort } from "@k6-gate/testkit/ports";
import { startProcess } from "@k6-gate/testkit/process";
import { httpCall } from "./http-client";

/** grafana/flagger-k6-webhook, the service k6-gate replaces, as `make peer` builds it. */
export const PEER_BIN = join(TOOLS_BIN, "flagger-k6-webhook");

/**
 * The settings it runs with besides LISTEN_PORT, PATH, HOME and TMPDIR: its k6 gets the
 * two k6-gate gives its own (no usage report, no extension resolution).
 */
export const PEER_SETTINGS = {
  LOG_LEVEL: "info",
  K6_NO_USAGE_REPORT: "true",
  K6_AUTO_EXTENSION_RESOLUTION: "false",
};

export interface Peer {
  /** http://127.0.0.1:<port>: POST /launch-test takes the same body as k6-gate's. */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** The version the binary reports ("v0.5.7"), from the line it logs (to stderr) on `--version`. */
export function peerVersion(): string {
  const { stderr } = spawnSync(PEER_BIN, ["--version"], { encoding: "utf8" });
  return /version=(v[^,)]+)/.exec(stderr)?.[1] ?? "unknown";
}

/**
 * Starts the peer with its defaults (MAX_CONCURRENT_TESTS 1000, no Kubernetes client, no
 * Slack, no cloud token) and PEER_SETTINGS on a free port, running `k6Bin` (it runs `k6`
 * from PATH), with a HOME and TMPDIR (where it writes each script) that stop() removes.
 * It listens on every interface and has no setting to choose one: `make bench-peer` runs
 * it in a network namespace with only loopback.
 */
export async function startPeer(k6Bin: string): Promise<Peer> {
  if (!existsSync(PEER_BIN)) throw new Error(`${PEER_BIN} missing: run \`make peer\``);
  const home = mkdtempSync(join(tmpdir(), "k6-gate-bench-peer-"));
  const port = await freePort();
  const child = startProcess(PEER_BIN, [], {
    name: "flagger-k6-webhook",
    env: {
      ...PEER_SETTINGS,
      LISTEN_PORT: String(port),
      PATH: `${dirname(k6Bin)}:${process.env.PATH ?? ""}`,
      HOME: home,
      TMPDIR: home,
    },
  });
  const stop = async () => {
    await child.stop();
    rmSync(home, { recursive: true, force: true });
  };
  try {
    await child.waitForOutput(/starting server at/);
    const url = `http://127.0.0.1:${port}`;
    await untilHealthy(url);
    return { url, pid: child.pid, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** It logs "starting server" just before it binds: asks /health until it answers. */
async function untilHealthy(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const healthy = await httpCall(`${url}/health`).then(
      (answer) => answer.status === 200,
      () => false,
    );
    if (healthy) return;
    if (performance.now() > deadline) throw new Error(`the peer at ${url} is not healthy`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
