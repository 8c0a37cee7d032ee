import { mkdtemp, readdir, rm } from "node:fs/promises";
import { join } from "node:path";

const PREFIX = "k6-gate-run-";

/** A fresh private directory for one run, named after this worker's pid. */
export function makeRunDir(tmpRoot: string): Promise<string> {
  return mkdtemp(join(tmpRoot, `${PREFIX}${process.pid}-`));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes run directories left by workers that died (kill -9 skips the cleanup that
 * removes them), keeping those of live workers sharing the directory. A directory with
 * this process's own pid is a predecessor's (a restarted container reuses pids): this
 * worker has not started a run yet.
 */
export async function removeDeadRunDirs(tmpRoot: string): Promise<string[]> {
  const names = await readdir(tmpRoot).catch(() => [] as string[]);
  const dead = names.filter((name) => {
    const pid = /^k6-gate-run-(\d+)-/.exec(name)?.[1];
    return pid !== undefined && (Number(pid) === process.pid || !alive(Number(pid)));
  });
  await Promise.all(dead.map((name) => rm(join(tmpRoot, name), { recursive: true, force: true })));
  return dead;
}
