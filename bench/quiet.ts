import { machineCpu } from "./proc";

const WINDOW_MS = 1000;

export interface Quiet {
  waitedMs: number;
  /** Busy share of one core in the last window before starting (other work: ours is idle). */
  busyPercent: number;
}

/**
 * The machine is shared: waits, between benchmarks while none of ours runs, until the
 * other work on it drops below `maxPercent` of one core for a whole second, or gives up
 * after `timeoutMs` and goes on (the load is then on record in the document).
 */
export async function waitForQuiet(maxPercent = 30, timeoutMs = 20_000): Promise<Quiet> {
  const started = performance.now();
  for (;;) {
    const before = machineCpu();
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
    const after = machineCpu();
    const busyPercent = ((after.busy - before.busy) / WINDOW_MS) * 100;
    const waitedMs = performance.now() - started;
    if (busyPercent < maxPercent || waitedMs >= timeoutMs) return { waitedMs, busyPercent };
  }
}
