import type { Saturation } from "@k6-gate/shared";

/**
 * Linux's USER_HZ, the unit of utime/stime in /proc/<pid>/stat (`getconf CLK_TCK`). The
 * kernel fixes it at 100 for user space on every architecture it supports, whatever its
 * internal HZ, so it is a constant here rather than a `getconf` call per worker.
 */
export const CLOCK_TICKS_PER_SECOND = 100;

/**
 * A sample is saturated when k6 used, or was ready to use and waited for, at least this
 * share of the CPUs it may use.
 */
export const SATURATED_AT = 0.9;

/** One process as /proc/<pid>/stat describes it. */
export interface ProcStat {
  pid: number;
  ppid: number;
  /** Clock ticks after boot; with the pid it names one process even if the pid is reused. */
  startTime: number;
  /** utime + stime, all its threads, in clock ticks. */
  cpuTicks: number;
}

/**
 * /proc/<pid>/stat: `pid (comm) state ppid ...`. The command name may hold spaces and
 * parentheses, so fields are counted from the last `)`.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  const pid = Number.parseInt(text, 10);
  if (close < 0 || !Number.isInteger(pid)) return undefined;
  // fields[0] is field 3 (state) of proc(5): ppid is 4, utime 14, stime 15, starttime 22.
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const [ppid = NaN, utime = NaN, stime = NaN, startTime = NaN] = [1, 11, 12, 19].map((i) =>
    Number(fields[i]),
  );
  if (![ppid, utime, stime, startTime].every(Number.isFinite)) return undefined;
  return { pid, ppid, startTime, cpuTicks: utime + stime };
}

/**
 * Nanoseconds a thread spent runnable but waiting for a CPU (run_delay, the second field of
 * /proc/<pid>/task/<tid>/schedstat): the CPU it wanted and did not get.
 */
export function parseSchedstatWait(text: string): number | undefined {
  const wait = Number(text.trim().split(/\s+/)[1]);
  return Number.isFinite(wait) ? wait : undefined;
}

/** The number of CPUs in a list such as `0-3,8,10-11` (Cpus_allowed_list). */
export function countCpuList(list: string): number | undefined {
  let count = 0;
  for (const part of list.trim().split(",")) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!match) return undefined;
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) return undefined;
    count += last - first + 1;
  }
  return count > 0 ? count : undefined;
}

/** The CPUs a process may run on, from /proc/<pid>/status (its affinity, `taskset`). */
export function allowedCpusOf(status: string): number | undefined {
  const list = /^Cpus_allowed_list:\s*(\S+)\s*$/m.exec(status)?.[1];
  return list === undefined ? undefined : countCpuList(list);
}

/** A cgroup v2 `cpu.max` (`<quota> <period>`) in CPUs; undefined for `max` (no quota). */
export function parseCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  const cpus = Number(quota) / Number(period);
  return quota !== "max" && Number.isFinite(cpus) && cpus > 0 ? cpus : undefined;
}

/** The cgroup v2 path in /proc/<pid>/cgroup (its `0::/path` line). */
export function cgroupV2PathOf(procCgroup: string): string | undefined {
  return /^0::(\/.*)$/m.exec(procCgroup)?.[1];
}

/** Where the cgroup2 hierarchy is mounted (`/sys/fs/cgroup`, or `.../unified` on hybrid hosts). */
export function cgroup2MountOf(
  mountinfo: string,
): { root: string; mountPoint: string } | undefined {
  for (const line of mountinfo.split("\n")) {
    const [before, after] = line.split(" - ");
    if (after?.split(" ")[0] !== "cgroup2") continue;
    const fields = before?.split(" ") ?? [];
    const [root, mountPoint] = [fields[3], fields[4]];
    if (root !== undefined && mountPoint !== undefined) return { root, mountPoint };
  }
  return undefined;
}

/**
 * The directories whose `cpu.max` bounds a process: its cgroup and each ancestor up to the
 * mount, as a quota anywhere above it applies too (a container's limit sits on its pod).
 */
export function cpuMaxPaths(
  mount: { root: string; mountPoint: string },
  cgroupPath: string,
): string[] {
  const relative =
    mount.root !== "/" && cgroupPath.startsWith(mount.root)
      ? cgroupPath.slice(mount.root.length)
      : cgroupPath;
  const parts = relative.split("/").filter(Boolean);
  const base = mount.mountPoint.replace(/\/+$/, "");
  const paths: string[] = [];
  for (let depth = parts.length; depth >= 0; depth--) {
    paths.push([base, ...parts.slice(0, depth), "cpu.max"].join("/"));
  }
  return paths;
}

/** The CPUs k6 may use: the smaller of its affinity and its cgroup quotas. */
export function availableCpus(
  allowed: number | undefined,
  quotas: (number | undefined)[],
): number | undefined {
  const limits = [allowed, ...quotas].filter((n): n is number => n !== undefined);
  return limits.length ? Math.min(...limits) : undefined;
}

/** `root` and every process descended from it, from a snapshot of all processes. */
export function processTree(stats: ProcStat[], root: number): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const stat of stats) {
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push(stat);
    children.set(stat.ppid, siblings);
  }
  const tree = stats.filter((stat) => stat.pid === root);
  // Breadth first: the loop also visits the children it appends.
  for (const stat of tree) tree.push(...(children.get(stat.pid) ?? []));
  return tree;
}

/** A process's key: pid and start time, so a reused pid is a new process. */
export const processKey = (stat: ProcStat) => `${stat.pid}/${stat.startTime}`;

/**
 * How much a per-process counter (CPU ticks, wait ns) grew in the tree between two
 * snapshots. A process that appeared counts in full (it started within the interval); one
 * that exited took its last interval with it, an undercount of one interval of one process.
 */
export function growthBetween(before: Map<string, number>, after: Map<string, number>): number {
  let grown = 0;
  for (const [process, value] of after) grown += Math.max(0, value - (before.get(process) ?? 0));
  return grown;
}

/** One interval of k6's CPU, in CPUs (1 = one core for the whole interval). */
export interface CpuSample {
  used: number;
  /** Runnable but not running: the CPU it lacked (another process had it, or the quota ran out). */
  waiting: number;
}

/** An interval's sample from the ticks used, the ns waited and its wall time. */
export function cpuSampleOf(ticks: number, waitNs: number, intervalMs: number): CpuSample {
  if (intervalMs <= 0) return { used: 0, waiting: 0 };
  const seconds = intervalMs / 1000;
  return { used: ticks / CLOCK_TICKS_PER_SECOND / seconds, waiting: waitNs / 1e9 / seconds };
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * The run's saturation from its intervals. Waiting counts because a k6 that gets only
 * part of its core (a busy neighbour, a throttled quota) delays its requests as much as
 * one that fills it. The peak is what k6 used, capped at the CPUs available: above it is
 * tick rounding (a 250 ms interval holds 25 ticks per CPU).
 */
export function saturationOf(samples: CpuSample[], cpus: number): Saturation {
  const saturated = samples.filter((s) => s.used + s.waiting >= SATURATED_AT * cpus).length;
  return {
    share: samples.length ? round2(saturated / samples.length) : 0,
    samples: samples.length,
    cpus: round2(cpus),
    peakCpus: round2(Math.min(cpus, Math.max(0, ...samples.map((s) => s.used)))),
  };
}
