import { readFileSync, readdirSync, readlinkSync } from "node:fs";

/** Resident memory of a process, from /proc/<pid>/status (VmRSS). */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** Socket inodes the process holds open (its fds that link to `socket:[inode]`). */
function socketInodes(pid: number): Set<string> {
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
