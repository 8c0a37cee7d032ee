import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { K6_BIN } from "../test/support/paths";

/** Resident memory of a process in bytes (VmRSS), or undefined once it is gone. */
export function rssOf(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The parent of a process, or undefined once it is gone. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/** Pids whose command line (argv) passes `match`. */
function pidsWhere(match: (argv: string[]) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (match(readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")))
        pids.push(Number(entry));
    } catch {
      // exited between readdir and read
    }
  }
  return pids;
}

/** The redis-server listening on `port` (it shows "redis-server <host>:<port>" as its command). */
export function redisServerPid(port: number): number | undefined {
  return pidsWhere(([argv0 = ""]) => new RegExp(`^redis-server \\S+:${port}$`).test(argv0))[0];
}

/**
 * The real k6 processes started by the given workers. `setpriv --pdeathsig` execs k6, so
 * its parent is the worker; other k6 that may run on this machine are left out.
 */
export function k6ProcessesOf(workerPids: ReadonlySet<number>): number[] {
  return pidsWhere(([argv0, argv1]) => argv0 === K6_BIN && argv1 === "run").filter((pid) =>
    workerPids.has(parentOf(pid) ?? -1),
  );
}

/** Samples `read` every `everyMs` until stopped; returns every sample taken. */
export function sampler<T>(read: () => T, everyMs: number): { stop(): T[] } {
  const samples: T[] = [read()];
  const timer = setInterval(() => samples.push(read()), everyMs);
  return {
    stop() {
      clearInterval(timer);
      samples.push(read());
      return samples;
    },
  };
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
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith("socket:")) count++;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}
