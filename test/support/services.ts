import { afterAll, afterEach, beforeAll } from "vitest";
import type { ManagedProcess } from "./process";
import { startRedis, type TestRedis } from "./redis";
import { startTarget, type Target } from "./target";

export interface Services {
  readonly redis: TestRedis;
  readonly target: Target;
  /** Processes a test started: killed after it, whatever its outcome. */
  track(...processes: ManagedProcess[]): void;
}

/**
 * The parts most process-level tests share, with their hooks: one redis-server and one
 * HTTP target on 127.0.0.1 for the file, the test's API and worker processes killed after
 * each test.
 */
export function useServices(): Services {
  let redis: TestRedis | undefined;
  let target: Target | undefined;
  let processes: ManagedProcess[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    target = await startTarget();
  });
  afterAll(async () => {
    await Promise.allSettled([redis?.destroy(), target?.close()]);
  });
  afterEach(async () => {
    await Promise.allSettled(processes.map((p) => p.stop("SIGKILL")));
    processes = [];
  });
  const started = <T>(part: T | undefined, name: string): T => {
    if (part === undefined) throw new Error(`${name} is not started yet (use it inside a test)`);
    return part;
  };
  return {
    get redis() {
      return started(redis, "redis-server");
    },
    get target() {
      return started(target, "the target");
    },
    track(...more) {
      processes.push(...more);
    },
  };
}
