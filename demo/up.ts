import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../test/support/ports";
import { startProcess, type ManagedProcess } from "../test/support/process";
import { ROOT, TOOLS_BIN } from "../test/support/paths";
import { startDemoTarget } from "./target";
import { printVerdicts, sendDemoCanaries } from "./verdicts";

/**
 * `make demo`: Redis (unless REDIS_URL is set), the API, two workers and a demo target,
 * all on 127.0.0.1; then one good and one bad canary, judged by the real k6.
 * DEMO_EXIT=1 stops after the verdicts (exit 0 when both verdicts are as expected).
 */
const children: ManagedProcess[] = [];
const log = (line: string) => console.log(`[demo] ${line}`);

async function portOr(preferred: number): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => void freePort().then(resolve));
    probe.listen(preferred, "127.0.0.1", () => probe.close(() => resolve(preferred)));
  });
}

async function main(): Promise<boolean> {
  const dataDir = join(ROOT, ".demo");
  mkdirSync(dataDir, { recursive: true });
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    const port = await freePort();
    const redis = startProcess(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dataDir,
        "--save",
        "",
        "--appendonly",
        "yes",
        "--maxmemory-policy",
        "noeviction",
      ],
      { name: "redis" },
    );
    children.push(redis);
    await redis.waitForOutput(/Ready to accept connections/);
    redisUrl = `redis://127.0.0.1:${port}`;
    log(`redis-server on ${redisUrl} (throwaway, data in .demo/)`);
  }
  const target = await startDemoTarget(await portOr(8089));
  log(`demo target on http://127.0.0.1:${target.port} (/ok healthy, /flaky broken)`);
  const apiPort = await portOr(Number(process.env.PORT ?? 8000));
  const publicUrl = `http://127.0.0.1:${apiPort}`;
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    REDIS_URL: redisUrl,
    K6_BIN: process.env.K6_BIN ?? join(TOOLS_BIN, "k6"),
    PUBLIC_URL: publicUrl,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
  };
  const tsx = (app: string) => ["--import", "tsx", join(ROOT, "apps", app, "src", "main.ts")];
  const api = startProcess(process.execPath, tsx("api"), {
    name: "api",
    env: { ...env, LOG_LEVEL: "info", PORT: String(apiPort), HOST: "127.0.0.1" },
  });
  children.push(api);
  await api.waitForOutput(/api listening/);
  for (const n of [1, 2]) {
    const worker = startProcess(process.execPath, tsx("worker"), {
      name: `worker-${n}`,
      env: { ...env, LOG_LEVEL: "info" },
    });
    children.push(worker);
    await worker.waitForOutput(/worker started/);
  }
  log(`API on ${publicUrl}, 2 workers; sending two canaries (3s k6 tests each)...`);
  const ok = printVerdicts(await sendDemoCanaries(publicUrl, target.port));
  console.log("");
  log(`dashboard:      ${publicUrl}/`);
  log(`canary page:    ${publicUrl}/canaries/demo/podinfo-bad`);
  log(`queue (bull-board): ${publicUrl}/admin/queues`);
  log(`run history:    ${publicUrl}/api/canaries/demo/podinfo-bad/runs`);
  log(`metrics:        ${publicUrl}/metrics`);
  log(ok ? "verdicts as expected: one pass, one fail" : "UNEXPECTED verdicts");
  if (process.env.DEMO_EXIT !== "1") {
    log("running; Ctrl-C to stop");
    await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
  }
  target.close();
  return ok;
}

async function stopAll(): Promise<void> {
  await Promise.allSettled(children.reverse().map((child) => child.stop("SIGTERM", 15_000)));
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
