import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { K6_BIN } from "./paths";

/**
 * Reading processes from /proc, for tests and benchmarks: memory, parentage, sockets.
 * Every reader tolerates a process that ends while it looks.
 */

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
export function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/** Pids whose command line (argv) passes `match`. */
export function pidsWhere(match: (argv: string[]) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (match(readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0"))) {
        pids.push(Number(entry));
      }
    } catch {
      // exited between readdir and read
    }
  }
  return pids;
}

/** Every process running the real k6 binary (`k6 run ...`), whoever started it. */
export function realK6Processes(): number[] {
  return pidsWhere(([argv0, argv1]) => argv0 === K6_BIN && argv1 === "run");
}

/**
 * The real k6 processes started by the given workers. `setpriv --pdeathsig` execs k6, so
 * its parent is the worker; other k6 that may run on this machine are left out.
 */
export function k6ProcessesOf(workerPids: ReadonlySet<number>): number[] {
  return realK6Processes().filter((pid) => workerPids.has(parentOf(pid) ?? -1));
}

/** A process's working directory, or undefined once it is gone. */
export function cwdOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/** A process's environment, or undefined once it is gone (or not ours to read). */
export function environOf(pid: number): Record<string, string> | undefined {
  try {
    const entries = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
    return Object.fromEntries(
      entries.map((entry) => [
        entry.slice(0, entry.indexOf("=")),
        entry.slice(entry.indexOf("=") + 1),
      ]),
    );
  } catch {
    return undefined;
  }
}

/**
 * Every real k6 process (`k6 run` and `k6 inspect`) working in a directory under `dir`:
 * the worker runs k6 in a fresh directory under its TMPDIR, so a test that gives its
 * workers a TMPDIR of their own finds their k6 here, whichever process is its parent.
 */
export function k6ProcessesUnder(dir: string): number[] {
  return pidsWhere(([argv0]) => argv0 === K6_BIN).filter((pid) =>
    (cwdOf(pid) ?? "").startsWith(dir),
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

/** Socket inodes the process holds open (its fds that link to `socket:[inode]`). */
export function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1]) inodes.add(match[1]);
    } catch {
      // The fd closed between listing and reading it.
    }
  }
  return inodes;
}

/**
 * TCP sockets in LISTEN state owned by the process: its socket inodes matched against
 * the listening rows (state 0A) of /proc/<pid>/net/tcp and tcp6. Returns "address:port"
 * in hex as the kernel prints it.
 */
export function tcpListeners(pid: number): string[] {
  const owned = socketInodes(pid);
  const listening: string[] = [];
  for (const table of ["tcp", "tcp6"]) {
    const rows = readFileSync(`/proc/${pid}/net/${table}`, "utf8").split("\n").slice(1);
    for (const row of rows) {
      const columns = row.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const [local, state, inode] = [columns[1], columns[3], columns[9]];
      if (state === "0A" && local && inode && owned.has(inode)) listening.push(local);
    }
  }
  return listening;
}
