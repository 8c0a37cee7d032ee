import { tmpdir } from "node:os";
import { UnrecoverableError } from "bullmq";
import { runJobSchema, type RunJob, type RunResult, type RunSummary } from "@k6-gate/shared";
import { KILL_GRACE_MS, OUTPUT_MAX_BYTES, type WorkerConfig } from "./config";
import { buildK6Environment } from "./k6/environment";
import { prepareCloudRun } from "./k6/cloud";
import { findCloudUrl } from "./k6/cloud-url";
import { k6VersionOf } from "./k6/k6-version";
import type { RunK6Options } from "./k6/run-k6";
import { processRunner, type K6Runner } from "./k6/runner";
import { findingsOf } from "./k6/findings";
import type { K6ProgressListener } from "./k6/k6-stdout";
import type { TailBuffer } from "./k6/tail-buffer";
import { judgeSaturation } from "./k6/saturation-verdict";
import { setupFailure, verdictOf } from "./k6/verdict";
import {
  baselineOf,
  compareToBaseline,
  judgeRegression,
  RECENT_HISTORY,
  testDigest,
} from "./regression";
import type { SecretResolver } from "./secrets";

export interface ProcessorDeps {
  config: Pick<
    WorkerConfig,
    | "K6_BIN"
    | "MAX_RUN_DURATION"
    | "K6_CLOUD_TOKEN"
    | "K6_CLOUD_STACK_ID"
    | "K6_CLOUD_PROJECT_ID"
    | "K6_CLOUD_HOST"
    | "REQUIRE_THRESHOLDS"
  >;
  pdeathsig: boolean;
  resolveSecrets: SecretResolver;
  /** Where k6 runs (k6/runner.ts); unset: the process runner (`runK6`). */
  runner?: K6Runner;
  /** Measures the load generator while k6 runs (several k6 at once); unset: each k6 alone. */
  loadSampler?: RunK6Options["loadSampler"];
  /** The canary's newest `limit` runs, newest first, to find the baseline in; none: no baseline. */
  history?: (run: RunJob, limit: number) => Promise<RunSummary[]>;
}

export interface RunExecution {
  result: RunResult;
  output: string;
  /** True when the run was stopped by `signal` (the worker is leaving), not judged. */
  interrupted: boolean;
}

export interface RunOptions {
  /** Stops k6 (SIGTERM, then SIGKILL after KILL_GRACE_MS): the worker is leaving. */
  signal: AbortSignal;
  /** k6's output so far, each time it grows (for the live tail). */
  onOutput?: (output: TailBuffer) => void;
  /** k6's start (with the scenarios' expected time) and its progress, for the run page. */
  progress?: K6ProgressListener;
  /** True once `signal` means the run goes on in another attempt (RunnerRun), not a cancel. */
  goesOnElsewhere?: () => boolean;
}

export type RunProcessor = (run: RunJob, options: RunOptions) => Promise<RunExecution>;

/** Job data that cannot be run; retrying cannot fix it. */
export function parseRunJob(data: unknown): RunJob {
  const parsed = runJobSchema.safeParse(data);
  if (!parsed.success) {
    throw new UnrecoverableError(
      `invalid job data: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  return parsed.data;
}

/**
 * One run: resolve secrets, run k6, judge. Knows nothing of queues or signals beyond the
 * AbortSignal it is given; a k6 failure is a verdict, not an exception.
 */
export function createProcessor(deps: ProcessorDeps): RunProcessor {
  const { config } = deps;
  const runner = deps.runner ?? processRunner;
  return async (run, { signal, onOutput, progress, goesOnElsewhere }) => {
    const cloud = run.uploadToCloud
      ? prepareCloudRun(config, [
          ...Object.keys(run.envVars),
          ...Object.keys(run.kubernetesSecrets),
        ])
      : undefined;
    if (cloud && !cloud.ok) {
      return { result: setupFailure(cloud.problem), output: "", interrupted: false };
    }
    const parallelism = run.parallelism ?? 1;
    if (parallelism > 1 && runner.kind !== "k6-operator") {
      return {
        result: setupFailure(
          `metadata parallelism "${parallelism}" needs the k6-operator runner (K6_RUNNER=k6-operator:<namespace>/<podtemplate>, the chart's runner.kind k6-operator); this worker's runner is ${runner.kind}`,
        ),
        output: "",
        interrupted: false,
      };
    }
    const secrets = await deps.resolveSecrets(run.kubernetesSecrets, run.namespace);
    if (!secrets.ok) {
      return { result: setupFailure(secrets.problem), output: "", interrupted: false };
    }
    const limits = run.maxRegression ?? {};
    // Read while k6 runs, so the comparison adds nothing to the verdict's latency; the
    // newest runs first, the rest of the history only when they hold too few revisions.
    const history = deps.history?.(run, RECENT_HISTORY) ?? Promise.resolve([]);
    // Its failure is met where it is awaited; until then it must not count as unhandled.
    history.catch(() => undefined);
    const outcome = await runner.run(
      {
        k6Bin: config.K6_BIN,
        script: run.script,
        env: (runDir) =>
          buildK6Environment({ runDir, envVars: run.envVars, secrets: secrets.value }),
        command: cloud?.value.command,
        files: cloud?.value.files,
        maxDurationMs:
          run.maxDurationMs === undefined
            ? undefined
            : Math.min(run.maxDurationMs, config.MAX_RUN_DURATION),
        maxRunDurationMs: config.MAX_RUN_DURATION,
        killGraceMs: KILL_GRACE_MS,
        // The system's temporary directory (TMPDIR), like any program's: one private dir per run.
        tmpRoot: tmpdir(),
        outputMaxBytes: OUTPUT_MAX_BYTES,
        pdeathsig: deps.pdeathsig,
        signal,
        onOutput,
        progress,
        statKeys: Object.keys(limits),
        loadSampler: deps.loadSampler,
      },
      { runId: run.runId, goesOnElsewhere: goesOnElsewhere ?? (() => false), parallelism },
    );
    const output = outcome.output.text();
    if (outcome.spawnError) {
      return {
        result: setupFailure(`k6 could not be started: ${outcome.spawnError}`, outcome.durationMs),
        output,
        interrupted: false,
      };
    }
    const findings = findingsOf(outcome, Object.keys(limits));
    const judged = verdictOf({
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      timedOut: outcome.timedOut,
      maxDurationMs: outcome.maxDurationMs,
      scriptDurationMs: outcome.scriptDurationMs,
      durationMs: outcome.durationMs,
      findings,
      interruptedIterations: outcome.log.interruptedIterations,
      firstInterruption: outcome.log.firstInterruption,
      maxInterruptedIterations: run.maxInterruptedIterations ?? 0,
      lastError: outcome.log.lastError,
      cloudUrl: cloud ? findCloudUrl(outcome.head) : null,
      cloudRequested: run.uploadToCloud,
      requireThresholds: config.REQUIRE_THRESHOLDS,
      allowFailedRequests: run.allowFailedRequests ?? false,
    });
    const digest = testDigest(run);
    const result = findings
      ? judgeRegression(
          { ...judged, stats: findings.stats },
          compareToBaseline(
            findings.stats,
            await baselineOf(run, digest, await history, deps.history),
            limits,
          ),
          limits,
        )
      : judged;
    // What ran, for the run page: the k6 binary's version and the load k6 inspect read.
    const k6 = {
      version: await k6VersionOf(config.K6_BIN),
      ...(outcome.plan ?? { totalDuration: null, maxVUs: null, scenarios: [] }),
    };
    return {
      result: {
        ...judgeSaturation(result, outcome.saturation, run.failOnSaturation ?? false),
        testDigest: digest,
        k6,
      },
      output,
      interrupted: outcome.cancelled,
    };
  };
}
