import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildK6Environment } from "../apps/worker/src/k6/environment";

/**
 * The arguments the worker gives k6 (apps/worker/src/k6/run-k6.ts): k6 writes its metric
 * stream as the worker has it write it, here to /dev/null; reading it is the worker's cost.
 */
export const K6_ARGS = ["run", "--quiet", "--no-color", "--out", "json=/dev/null"];

/**
 * `k6 run` by hand, as the worker would run it but without the worker: same flags, same
 * built environment, script in a fresh directory. Times the k6 process alone, spawn to
 * exit (directory setup is not counted; the worker's is, in the other column).
 */
export async function bareK6(k6Bin: string, script: string): Promise<number> {
  const runDir = await mkdtemp(join(tmpdir(), "k6-gate-bench-bare-"));
  try {
    await writeFile(join(runDir, "script.js"), script, { mode: 0o600 });
    const started = performance.now();
    const child = spawn(k6Bin, [...K6_ARGS, "script.js"], {
      cwd: runDir,
      env: buildK6Environment({ runDir, envVars: {}, secrets: {} }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.resume();
    child.stderr.resume();
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", resolve);
    });
    const elapsed = performance.now() - started;
    if (code !== 0) throw new Error(`bare k6 exited ${code}`);
    return elapsed;
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }
}
