import { createWriteStream, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@k6-gate/testkit/ports";
import { startAllInOne } from "@k6-gate/testkit/k6gate";
import type { ManagedProcess } from "@k6-gate/testkit/process";
import { startRedis } from "@k6-gate/testkit/redis";
import { TOOLS_BIN } from "@k6-gate/testkit/paths";
import { startDemoTarget } from "./target";
import { printVerdicts, sendDemoCanaries } from "./verdicts";
import { flaggerRollout, rolloutCanaryPage } from "./rollout";

/**
 * `make demo`: Redis with a password (unless REDIS_URL is set), k6-gate as a small install runs
 * it (the API and a worker in one process, apps/all) and a demo target, all on 127.0.0.1; then one good and one bad canary, judged by the real k6;
 * then Flagger's own controller rolls a good and a bad revision out through k6-gate.
 * DEMO_EXIT=1 stops after that (exit 0 when the verdicts and the rollout are as expected).
 */
const children: ManagedProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
const log = (line: string) => console.log(`[demo] ${line}`);

/** k6-gate's JSON log, in a file named when the demo ends. */
const LOG_DIR = mkdtempSync(join(tmpdir(), "k6-gate-demo-logs-"));
const logFiles: string[] = [];

/** Everything `child` printed so far and prints from now on, into LOG_DIR/<name>.log. */
function logToFile(child: ManagedProcess, name: string): ManagedProcess {
  const path = join(LOG_DIR, `${name}.log`);
  const file = createWriteStream(path);
  file.write(child.output());
  child.child.stdout?.on("data", (chunk: Buffer) => file.write(chunk));
  child.child.stderr?.on("data", (chunk: Buffer) => file.write(chunk));
  void child.exited.then(() => file.end());
  logFiles.push(path);
  return child;
}

async function portOr(preferred: number): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => void freePort().then(resolve));
    probe.listen(preferred, "127.0.0.1", () => probe.close(() => resolve(preferred)));
  });
}

async function main(): Promise<boolean> {
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    // As the ACL user of deploy/redis/k6gate.acl, as shipped (the default QUEUE_PREFIX).
    const redis = await startRedis({ appendonly: true, aclPrefix: "k6gate" });
    cleanups.push(() => redis.destroy());
    redisUrl = redis.url;
    // With a random password, as every shipped configuration runs Redis (SECURITY.md).
    log(`redis-server on 127.0.0.1:${redis.port} (throwaway, random password)`);
  }
  const target = await startDemoTarget(await portOr(8089));
  log(`demo target on http://127.0.0.1:${target.port} (/ok healthy, /flaky broken)`);
  const apiPort = await portOr(Number(process.env.PORT ?? 8000));
  const publicUrl = `http://127.0.0.1:${apiPort}`;
  const env = {
    REDIS_URL: redisUrl,
    K6_BIN: process.env.K6_BIN ?? join(TOOLS_BIN, "k6"),
    PUBLIC_URL: publicUrl,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
  };
  // A free metrics port: port 9464 may be taken on this host.
  const metricsPort = String(await freePort());
  const gate = await startAllInOne({ ...env, WORKER_METRICS_PORT: metricsPort }, { port: apiPort });
  children.push(logToFile(gate, "k6-gate"));
  log(`log of k6-gate: ${LOG_DIR}/k6-gate.log (tail -f it while it runs)`);
  log(
    `k6-gate (API and worker in one process) on ${publicUrl}; sending two canaries (3s k6 tests each)...`,
  );
  const verdictsOk = printVerdicts(await sendDemoCanaries(publicUrl, target.port));
  console.log("");
  log("Flagger's own controller (test/flagger-sim) rolls demo/podinfo out through k6-gate:");
  log("v2 is healthy, v3's pods answer 500. Flagger analyses at most every 10s: ~1.5 minutes.");
  const rolloutOk = await flaggerRollout(publicUrl, log);
  const ok = verdictsOk && rolloutOk;
  console.log("");
  log(`dashboard:      ${publicUrl}/`);
  log(`canary page:    ${publicUrl}/canaries/demo/podinfo-bad`);
  log(`rollout page:   ${publicUrl}${rolloutCanaryPage} (v2 promoted, v3 rolled back)`);
  log(`queue (bull-board): ${publicUrl}/admin/queues`);
  log(`run history:    ${publicUrl}/api/canaries/demo/podinfo-bad/runs`);
  log(`metrics:        ${publicUrl}/metrics`);
  for (const file of logFiles) log(`log:            ${file}`);
  log(verdictsOk ? "verdicts as expected: one pass, one fail" : "UNEXPECTED verdicts");
  log(
    rolloutOk
      ? "rollout as expected: v2 Succeeded, v3 Failed and rolled back"
      : "UNEXPECTED rollout",
  );
  if (process.env.DEMO_EXIT !== "1") {
    log("running; Ctrl-C to stop");
    await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
  }
  target.close();
  return ok;
}

async function stopAll(): Promise<void> {
  await Promise.allSettled(children.reverse().map((child) => child.stop("SIGTERM", 15_000)));
  await Promise.allSettled(cleanups.map((cleanup) => cleanup()));
  if (logFiles.length) log(`logs kept: ${logFiles.join(", ")}`);
}

main()
  .then(async (ok) => {
    await stopAll();
    process.exit(ok ? 0 : 1);
  })
  .catch(async (error: unknown) => {
    console.error(error);
    await stopAll();
    process.exit(1);
  });
