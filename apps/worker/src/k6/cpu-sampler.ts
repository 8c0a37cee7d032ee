import { readdir, readFile } from "node:fs/promises";
import type { Saturation } from "@k6-gate/shared";
import {
  allowedCpusOf,
  availableCpus,
  cgroup2MountOf,
  cgroupV2PathOf,
  cpuMaxPaths,
  cpuSampleOf,
  growthBetween,
  parseCpuMax,
  parseProcStat,
  parseSchedstatWait,
  processKey,
  processTree,
  saturationOf,
  type CpuSample,
  type ProcStat,
} from "./cpu-usage";

/** Often enough that a few seconds of run give a share; 25 clock ticks per CPU each. */
const SAMPLE_EVERY_MS = 250;

export interface CpuSampler {
  /** Stops sampling: the run's saturation, or undefined when nothing could be measured. */
  stop(): Saturation | undefined;
}

const readText = (path: string) => readFile(path, "utf8").catch(() => undefined);

/** The CPUs `pid` may use: its affinity, and the quota of its cgroup and those above it. */
export async function cpusOf(pid: number): Promise<number | undefined> {
  const [status, cgroup, mountinfo] = await Promise.all([
    readText(`/proc/${pid}/status`),
    readText(`/proc/${pid}/cgroup`),
    readText("/proc/self/mountinfo"),
  ]);
  const path = cgroup === undefined ? undefined : cgroupV2PathOf(cgroup);
  const mount = mountinfo === undefined ? undefined : cgroup2MountOf(mountinfo);
  const quotas =
    path === undefined || mount === undefined
      ? []
      : await Promise.all(
          cpuMaxPaths(mount, path).map(async (file) => {
            const text = await readText(file);
            return text === undefined ? undefined : parseCpuMax(text);
          }),
        );
  return availableCpus(status === undefined ? undefined : allowedCpusOf(status), quotas);
}

/** Every process this worker can see (in a pod: its own few). */
async function allProcesses(): Promise<ProcStat[]> {
  const names = await readdir("/proc").catch(() => []);
  return statsOf(names.filter((name) => /^\d+$/.test(name)).map(Number));
}

async function statsOf(pids: number[]): Promise<ProcStat[]> {
  const stats = await Promise.all(
    pids.map(async (pid) => {
      const text = await readText(`/proc/${pid}/stat`);
      return text === undefined ? undefined : parseProcStat(text);
    }),
  );
  return stats.filter((stat) => stat !== undefined);
}

/** Run-queue wait of all of a process's threads, in ns (0 without schedstats). */
async function waitNsOf(pid: number): Promise<number> {
  const threads = await readdir(`/proc/${pid}/task`).catch(() => []);
  const waits = await Promise.all(
    threads.map(async (tid) => {
      const text = await readText(`/proc/${pid}/task/${tid}/schedstat`);
      return (text === undefined ? undefined : parseSchedstatWait(text)) ?? 0;
    }),
  );
  return waits.reduce((sum, wait) => sum + wait, 0);
}

interface Snapshot {
  at: number;
  ticks: Map<string, number>;
  waitNs: Map<string, number>;
}

/**
 * How often the sampler looks for new descendants of k6 (a wrapper that forks it) across
 * every process on the host; in between it reads only the processes it knows. Reading all
 * of /proc each time cost a worker on a busy node ~40 ms of CPU per sample.
 */
const FIND_TREE_EVERY = 8;

/** CPU ticks (read `at`) and run-queue wait of the processes in `tree`, by process. */
async function snapshotOf(tree: ProcStat[], at: number): Promise<Snapshot> {
  const waits = await Promise.all(tree.map((stat) => waitNsOf(stat.pid)));
  return {
    at,
    ticks: new Map(tree.map((stat) => [processKey(stat), stat.cpuTicks])),
    waitNs: new Map(tree.map((stat, i) => [processKey(stat), waits[i] ?? 0])),
  };
}

/**
 * Samples the CPU time and run-queue wait of `root` and its descendants every 250 ms into
 * `onSample`, and the CPUs `root` may use, until stopped. Linux only (/proc).
 */
function sampleTree(root: number, onSample: (sample: CpuSample) => void) {
  let cpus: number | undefined;
  let last: Snapshot | undefined;
  let sampling = false;
  let stopped = false;
  let known: number[] = [];
  let samplesTaken = 0;
  const sample = async () => {
    if (sampling) return;
    sampling = true;
    const at = performance.now();
    const tree =
      samplesTaken++ % FIND_TREE_EVERY === 0
        ? processTree(await allProcesses(), root)
        : await statsOf(known);
    known = tree.map((stat) => stat.pid);
    const next = await snapshotOf(tree, at);
    sampling = false;
    if (stopped || next.ticks.size === 0) return;
    if (last) {
      onSample(
        cpuSampleOf(
          growthBetween(last.ticks, next.ticks),
          growthBetween(last.waitNs, next.waitNs),
          next.at - last.at,
        ),
      );
    }
    last = next;
  };
  // The first reading after one interval, not at once: a run shorter than that (most
  // one-shot checks) costs no /proc reads, and could not be judged on one sample anyway.
  let cpusAsked = false;
  const timer = setInterval(() => {
    if (!cpusAsked) {
      cpusAsked = true;
      void cpusOf(root).then((found) => (cpus = found));
    }
    void sample();
  }, SAMPLE_EVERY_MS);
  timer.unref();
  return {
    cpus: () => cpus,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/**
 * Samples k6 (`pid` and its descendants: k6 may run under a wrapper) against the CPUs it
 * may use, so a verdict can say when the load generator, not the target, was the
 * bottleneck. Linux only; elsewhere it measures nothing.
 */
export function startCpuSampler(pid: number | undefined): CpuSampler {
  if (pid === undefined || process.platform !== "linux") return { stop: () => undefined };
  const samples: CpuSample[] = [];
  const tree = sampleTree(pid, (sample) => samples.push(sample));
  return {
    stop() {
      tree.stop();
      const cpus = tree.cpus();
      return cpus === undefined || samples.length === 0 ? undefined : saturationOf(samples, cpus);
    },
  };
}

/**
 * For a worker that runs several k6 at once: the load generator is the worker (`root`) with
 * every k6 it runs, as they share its CPUs, so each run is judged by what they used together
 * while it ran (a light run among busy neighbours is saturated too). One sampling for all
 * runs, while any runs.
 */
export function sharedCpuSampler(root: number): { start(): CpuSampler } {
  if (process.platform !== "linux") return { start: () => ({ stop: () => undefined }) };
  const runs = new Set<CpuSample[]>();
  let tree: ReturnType<typeof sampleTree> | undefined;
  let cpus: number | undefined;
  return {
    start() {
      const samples: CpuSample[] = [];
      runs.add(samples);
      tree ??= sampleTree(root, (sample) => {
        for (const run of runs) run.push(sample);
      });
      const current = tree;
      return {
        stop() {
          cpus = current.cpus() ?? cpus;
          runs.delete(samples);
          if (runs.size === 0 && tree === current) {
            current.stop();
            tree = undefined;
          }
          return cpus === undefined || samples.length === 0
            ? undefined
            : saturationOf(samples, cpus);
        },
      };
    },
  };
}
