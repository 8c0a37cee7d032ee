import { machineCpu } from "./proc";

export interface CpuUse {
  /** CPU ms each of our processes used in the window. */
  byRole: Record<string, number>;
  /** Busy CPU ms of the whole machine (all cores) in the window. */
  machineBusy: number;
  /** Busy CPU ms not accounted to our processes: other work on the machine. */
  other: number;
  wallMs: number;
}

/** Measures where the CPU went between start and stop. */
export function cpuWindow(read: () => Record<string, number>): { stop(): CpuUse } {
  const before = read();
  const machineBefore = machineCpu();
  const started = performance.now();
  return {
    stop() {
      const after = read();
      const machineAfter = machineCpu();
      const byRole = Object.fromEntries(
        Object.entries(after).map(([role, ms]) => [role, ms - (before[role] ?? 0)]),
      );
      const ours = Object.values(byRole).reduce((sum, ms) => sum + ms, 0);
      const machineBusy = machineAfter.busy - machineBefore.busy;
      return {
        byRole,
        machineBusy,
        other: Math.max(0, machineBusy - ours),
        wallMs: performance.now() - started,
      };
    },
  };
}
