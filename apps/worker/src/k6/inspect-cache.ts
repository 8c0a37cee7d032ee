import { createHash } from "node:crypto";
import type { ExecutionRequirements } from "./execution-requirements";

/** Scripts remembered: a canary's script runs again at every step and every revision. */
const MAX_ENTRIES = 200;
const cache = new Map<string, ExecutionRequirements>();

/**
 * What `k6 inspect` said of the same k6, script, files and environment before. k6 reads
 * options from the script and `__ENV` only, so the answer is the same; the run directory's
 * own paths (HOME, TMPDIR, differ per run) are left out of the key. Values are hashed,
 * never kept.
 */
export function inspectKey(
  k6Bin: string,
  files: Record<string, string>,
  env: Record<string, string>,
  runDir: string,
): string {
  const hash = createHash("sha256").update(k6Bin);
  for (const [name, content] of Object.entries(files).sort()) hash.update(`\0${name}\0${content}`);
  for (const [name, value] of Object.entries(env).sort()) {
    if (!value.includes(runDir)) hash.update(`\0${name}=${value}`);
  }
  return hash.digest("hex");
}

export function rememberedInspect(key: string): ExecutionRequirements | undefined {
  const found = cache.get(key);
  if (found) {
    // Most recently used last: the first entry is the one to forget.
    cache.delete(key);
    cache.set(key, found);
  }
  return found;
}

export function rememberInspect(key: string, requirements: ExecutionRequirements): void {
  cache.set(key, requirements);
  if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
}

/** Inspects running now, by key. */
const pending = new Map<string, Promise<ExecutionRequirements | undefined>>();

/**
 * What `k6 inspect` says for `key`: remembered, else the answer of the inspect already
 * running for it (a burst of checks of one script starts one k6 inspect, not one per run:
 * each is a whole k6 start on the cores the runs measure with), else `inspect()`'s, which
 * is remembered. A shared inspect that failed (its run was cancelled) is not taken.
 */
export async function inspectOnce(
  key: string,
  inspect: () => Promise<ExecutionRequirements | undefined>,
): Promise<ExecutionRequirements | undefined> {
  const remembered = rememberedInspect(key);
  if (remembered) return remembered;
  // Looked up before any await: runs started in one tick must find each other's.
  const running = pending.get(key);
  const shared = running && (await running);
  if (shared) return shared;
  const mine = inspect().then((requirements) => {
    if (requirements) rememberInspect(key, requirements);
    return requirements;
  });
  pending.set(key, mine);
  try {
    return await mine;
  } finally {
    if (pending.get(key) === mine) pending.delete(key);
  }
}
