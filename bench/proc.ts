import { readFileSync } from "node:fs";
import { pidsWhere, socketInodes } from "@k6-gate/testkit/proc";

// Machine-wide and CPU readings the benchmarks need; process readers live in libs/testkit.

/** The redis-server listening on `port` (it shows "redis-server <host>:<port>" as its command). */
export function redisServerPid(port: number): number | undefined {
  return pidsWhere(([argv0 = ""]) => new RegExp(`^redis-server \\S+:${port}$`).test(argv0))[0];
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU time (user + system, ms) of a process and of its reaped children (spawned k6 etc). */
export function cpuOf(pid: number): { self: number; children: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the ")" that ends the command name; utime is field 14 overall.
    const fields = stat
      .slice(stat.lastIndexOf(")") + 2)
      .split(" ")
      .map(Number);
    const at = (field: number) => fields[field - 3] ?? 0;
    return { self: (at(14) + at(15)) * TICK_MS, children: (at(16) + at(17)) * TICK_MS };
  } catch {
    return { self: 0, children: 0 };
  }
}

/** Busy and total CPU time of the whole machine so far (ms, all cores), from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const [, ...values] = line.trim().split(/\s+/);
  const ticks = values.slice(0, 8).map(Number);
  const total = ticks.reduce((sum, t) => sum + t, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busy: (total - idle) * TICK_MS, total: total * TICK_MS };
}

/** Open sockets of a process (its fds that link to socket:[inode]). */
export function socketCount(pid: number): number {
  return socketInodes(pid).size;
}
