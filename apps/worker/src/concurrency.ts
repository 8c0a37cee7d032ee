import { availableParallelism } from "node:os";
import { cpusOf } from "./k6/cpu-sampler";
import type { RunnerKind } from "./k6/runner";

/**
 * Light k6 runs one core carries before k6's own p95 inflates by 10% (docs/benchmarks.md,
 * "Capacity: k6 runs per core": at least 6, measured). Heavier scripts need a number set.
 */
export const RUNS_PER_CORE = 6;
/**
 * Runs at once of a worker whose k6 run in pods of their own (K6_RUNNER=job or
 * k6-operator): it only creates Jobs (or TestRuns) and reads their pods, a poll a second each.
 */
export const JOB_RUNS_AUTO = 50;

/** How many k6 one worker runs at once, and why: said in its start-up log line. */
export interface Concurrency {
  runs: number;
  /**
   * `WORKER_CONCURRENCY` as set, or `auto`: RUNS_PER_CORE x the CPUs it may use, or with
   * the Job runner JOB_RUNS_AUTO.
   */
  from: "setting" | "auto" | "auto, k6 in Jobs";
  /** The CPUs this worker may use: its cgroup quota or affinity, else the host's. */
  cpus: number;
  cpusFrom: "cgroup quota or affinity" | "host cores";
}

/** `WORKER_CONCURRENCY` (a number, or `auto`) for this worker, from the CPUs it may use. */
export async function concurrencyOf(
  setting: number | "auto",
  runner: RunnerKind = "process",
): Promise<Concurrency> {
  const limited = await cpusOf(process.pid);
  const cpus = limited ?? availableParallelism();
  const cpusFrom = limited === undefined ? "host cores" : "cgroup quota or affinity";
  if (setting !== "auto") return { runs: setting, from: "setting", cpus, cpusFrom };
  if (runner !== "process")
    return { runs: JOB_RUNS_AUTO, from: "auto, k6 in Jobs", cpus, cpusFrom };
  return { runs: Math.max(1, Math.floor(cpus * RUNS_PER_CORE)), from: "auto", cpus, cpusFrom };
}
