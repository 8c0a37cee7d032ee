import { launchTest, type Timed } from "./http-client";

export interface LoadResult {
  callers: number;
  latencies: number[];
  failures: Map<number, number>;
  elapsedMs: number;
}

/**
 * `callers` concurrent callers, each POSTing a fresh run (new checksum) as soon as its
 * previous verdict came back, for `durationMs`. Calls still open at the end are awaited
 * and counted.
 */
export async function closedLoop(
  apiUrl: string,
  {
    callers,
    durationMs,
    script,
    tag,
  }: { callers: number; durationMs: number; script: string; tag: string },
): Promise<LoadResult> {
  const latencies: number[] = [];
  const failures = new Map<number, number>();
  const started = performance.now();
  const deadline = started + durationMs;
  let sequence = 0;
  const caller = async () => {
    while (performance.now() < deadline) {
      const response: Timed = await launchTest(apiUrl, {
        name: "queue-bench",
        checksum: `${tag}-${++sequence}`,
        // One canary, many revisions at once: none may end another's run (`supersede`).
        metadata: { script, supersede: "false" },
      });
      if (response.status === 200) latencies.push(response.ms);
      else failures.set(response.status, (failures.get(response.status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: callers }, caller));
  return { callers, latencies, failures, elapsedMs: performance.now() - started };
}
