import { runK6, type RunK6Options, type RunK6Outcome } from "./run-k6";

/**
 * Where a run's k6 runs (K6_RUNNER; docs/decisions.md, "Runners"): `process` is k6 as a
 * child of this worker (run-k6.ts), `job` a Kubernetes Job per run (job/job-runner.ts),
 * `k6-operator` that Job for one pod and a TestRun for several (operator/).
 */
export type RunnerKind = "process" | "job" | "k6-operator";

/** The run a runner works for: a Job runner names its Job after it and adopts it. */
export interface RunnerRun {
  runId: string;
  /**
   * True once this attempt stops but the run goes on in another (not a cancel): this
   * worker is leaving and hands the run back, or another attempt holds it already. A pod
   * runner then leaves its pods running for that attempt to adopt.
   */
  goesOnElsewhere: () => boolean;
  /** Pods the test is split over (metadata `parallelism`); only k6-operator runs more than 1. */
  parallelism: number;
}

/**
 * One k6 run, wherever it runs. Everything above it (dedup, fencing, the evidence rules,
 * the baseline, Slack, cancel and supersede) is one path for every runner: a runner fills
 * a RunK6Outcome from what k6's Go side produced (exit code, JSON log, metric stream;
 * decision 37), never from a channel the script can write. `options.signal` stops it.
 */
export interface K6Runner {
  readonly kind: RunnerKind;
  run(options: RunK6Options, run: RunnerRun): Promise<RunK6Outcome>;
  /**
   * Removes what a former attempt left running for a run no attempt will run again (it
   * ended while queued, or its last attempt failed): a pod runner's Job or TestRun, which
   * would otherwise load the canary to its end and keep the run's Secret.
   */
  readonly discard?: (runId: string) => Promise<unknown>;
}

/** k6 as a child process of the worker (`runK6`). */
export const processRunner: K6Runner = { kind: "process", run: (options) => runK6(options) };
