import { chown, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { expectedDurationMs, splitStatKey, STORED_STATS, type Saturation } from "@k6-gate/shared";
import { startCpuSampler, type CpuSampler } from "./cpu-sampler";
import {
  derivedMaxDurationMs,
  parseExecutionRequirements,
  summaryTrendStats,
  type ExecutionRequirements,
} from "./execution-requirements";
import { inspectKey, inspectOnce } from "./inspect-cache";
import { K6Log } from "./k6-log";
import type { DeclaredThreshold } from "./measured-summary";
import { K6Fifo } from "./k6-fifo";
import { MetricStream } from "./metric-stream";
import { K6Stdout, type K6ProgressListener } from "./k6-stdout";
import { makeRunDir } from "./run-dirs";
import { TailBuffer } from "./tail-buffer";

const HEAD_BYTES = 64 * 1024;
/** `k6 inspect` only inits the script: a few hundred ms at worst. */
const INSPECT_TIMEOUT_MS = 30_000;

export interface RunK6Options {
  k6Bin: string;
  script: string;
  env: (runDir: string) => Record<string, string>;
  /** The k6 command and its mode flags; `run` unless told otherwise. */
  command?: string[];
  /**
   * Flags of the engine this k6 is one part of (k6-operator's execution segment, REST
   * address, `--paused`, tags), before the script.
   */
  engineArgs?: string[];
  /** Extra files for the run directory (k6's cwd), written private like the script. */
  files?: Record<string, string>;
  /** The run's limit from its metadata (`max_duration`); undefined: derived from the script. */
  maxDurationMs: number | undefined;
  /** The server's bound on every run (MAX_RUN_DURATION). */
  maxRunDurationMs: number;
  killGraceMs: number;
  tmpRoot: string;
  outputMaxBytes: number;
  /** Start k6 under `setpriv --pdeathsig KILL` so it cannot outlive the worker. */
  pdeathsig: boolean;
  /**
   * Run k6 (and inspect) as this user, owner of its run directory: the pod runner runs as
   * root and keeps k6 out of its own /proc and stdout (pod-run.ts).
   */
  runAs?: { uid: number; gid: number };
  signal: AbortSignal;
  onOutput?: (output: TailBuffer) => void;
  /** k6's progress (VUs, iterations), kept out of the output. */
  progress?: K6ProgressListener;
  /** `metric:stat` keys the verdict compares (`max_regression`): their percentiles are asked for. */
  statKeys?: string[];
  /** Measures the load generator while k6 runs; unset: k6's own process tree. */
  loadSampler?: { start(): CpuSampler };
}

export type Measured =
  { from: "stream"; stream: MetricStream } | { from: "summary-export"; text: string };

/** Bytes of a summary export kept: a real one is a few KiB per metric. */
const SUMMARY_EXPORT_MAX_BYTES = 4 * 1024 * 1024;

export interface RunK6Outcome {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  /** What k6 measured: its metric stream, or for `k6 cloud run` its summary export. */
  measured: Measured;
  /** The thresholds the script declares (`k6 inspect`); null when inspect failed. */
  declaredThresholds: DeclaredThreshold[] | null;
  output: TailBuffer;
  /** The first bytes k6 printed (its banner), kept even when the tail drops them. */
  head: string;
  durationMs: number;
  spawnError: string | null;
  /** The time limit k6 ran under. */
  maxDurationMs: number;
  /** The scenarios' duration `k6 inspect` found, when the limit came from it. */
  scriptDurationMs: number | null;
  /** The load `k6 inspect` read from the script's options; null when inspect failed. */
  plan: ExecutionRequirements["plan"] | null;
  /** What k6 logged: interrupted iterations, the last error. */
  log: K6Log;
  /** k6's CPU use against the CPUs it could use; absent when not measured. */
  saturation?: Saturation;
  /** The k6 processes whose streams were merged (a k6-operator TestRun); absent: one. */
  runners?: number;
}

/**
 * Runs k6 once in a fresh private directory (its cwd and HOME), with arguments as an
 * array (no shell), and always removes the directory. `k6 inspect` reads the script's
 * duration and load meanwhile, in the same directory and environment. Stopping
 * (deadline or `signal`) sends SIGTERM, so k6 still writes its summary, then SIGKILL
 * after `killGraceMs`.
 */
export async function runK6(options: RunK6Options): Promise<RunK6Outcome> {
  const runDir = await makeRunDir(options.tmpRoot);
  const output = new TailBuffer(options.outputMaxBytes);
  // k6's log (stderr) is JSON for k6-gate to read; its output shows it as text.
  const log = new K6Log((text) => {
    output.push(Buffer.from(`${text}\n`));
    options.onOutput?.(output);
  });
  const head: Buffer[] = [];
  let headBytes = 0;
  const started = performance.now();
  let fifo: K6Fifo | undefined;
  try {
    const files = { ...options.files, "script.js": options.script };
    for (const [name, content] of Object.entries(files)) {
      await writeFile(join(runDir, name), content, { mode: 0o600 });
      await handOver(options, join(runDir, name));
    }
    await handOver(options, runDir);
    // `k6 cloud run` forces the cloud as its only output: its summary export is all there is.
    const streamed = options.command === undefined;
    fifo = streamed
      ? await K6Fifo.create(runDir, "k6-metrics.fifo", { removeOnOpen: true })
      : await K6Fifo.create(runDir, "summary.json", { removeOnOpen: false });
    await handOver(options, fifo.path);
    const exported: Buffer[] = [];
    let exportedBytes = 0;
    if (!streamed) {
      fifo.attach({
        push: (chunk) => {
          if (exportedBytes < SUMMARY_EXPORT_MAX_BYTES) exported.push(chunk);
          exportedBytes += chunk.length;
        },
      });
    }
    const stream = new MetricStream();
    const env = options.env(runDir);
    const inspectCacheKey = inspectKey(options.k6Bin, files, env, runDir);
    const limitMs = options.maxDurationMs ?? options.maxRunDurationMs;
    const [file, args] = launch(options, [
      // Not --quiet: k6 then prints its progress, which K6Stdout takes out of the output.
      ...(options.command ?? ["run"]),
      "--no-color",
      // Pinned on the command line: env_vars (K6_LOG_OUTPUT=none) must not hide exceptions.
      "--log-format",
      "json",
      "--log-output",
      "stderr",
      "--summary-trend-stats",
      // Every p(N) the script's text names, thresholds among them, and those compared.
      summaryTrendStats([options.script, ...(options.statKeys ?? [])]),
      // What k6 measured comes from its Go side, never from a file the script can write:
      // handleSummary() may write any path, the summary export's among them.
      ...(streamed ? ["--out", `json=${fifo.name}`] : ["--summary-export", fifo.name]),
      ...(options.engineArgs ?? []),
      "script.js",
    ]);
    // Stops k6 at the limit derived from the script, once inspect has derived it.
    const deadline = new AbortController();
    const spawnedAt = Date.now();
    const subprocess = execa(file, args, {
      cwd: runDir,
      env,
      extendEnv: false,
      stdin: "ignore",
      buffer: false,
      reject: false,
      timeout: limitMs,
      cancelSignal: AbortSignal.any([options.signal, deadline.signal]),
      killSignal: "SIGTERM",
      forceKillAfterDelay: options.killGraceMs,
    });
    options.progress?.started(spawnedAt, null);
    // `k6 inspect` (a whole k6 start, 30 ms or more) runs beside `k6 run`, not before it,
    // and only for a script (and environment) this worker has not inspected yet.
    const inspecting = inspectOnce(inspectCacheKey, () => inspectScript(options, runDir, env));
    let derivedTimer: NodeJS.Timeout | undefined;
    const results = fifo;
    const planned = inspecting.then((requirements) => {
      // The (sub-)metrics whose every value is kept: those thresholds and stats read.
      stream.keep([
        ...(requirements?.thresholds ?? []).map((threshold) => threshold.metric),
        ...[...STORED_STATS, ...(options.statKeys ?? [])].map((key) => splitStatKey(key).metric),
      ]);
      if (streamed) results.attach(stream);
      const derivedMs =
        options.maxDurationMs === undefined && requirements
          ? derivedMaxDurationMs(requirements, options.maxRunDurationMs)
          : undefined;
      if (derivedMs !== undefined && derivedMs < limitMs) {
        const left = spawnedAt + derivedMs - Date.now();
        derivedTimer = setTimeout(() => deadline.abort(), Math.max(0, left));
      }
      if (requirements) options.progress?.started(spawnedAt, expectedDurationMs(requirements.plan));
      return { requirements, maxDurationMs: Math.min(derivedMs ?? limitMs, limitMs) };
    });
    const stdout = new K6Stdout(
      (text) => {
        output.push(text);
        options.onOutput?.(output);
      },
      (progress) => options.progress?.update(progress),
    );
    const keepHead = (chunk: Buffer) => {
      if (headBytes < HEAD_BYTES) {
        head.push(chunk.subarray(0, HEAD_BYTES - headBytes));
        headBytes += chunk.length;
      }
    };
    subprocess.stdout?.on("data", (chunk: Buffer) => {
      keepHead(chunk);
      stdout.push(chunk);
    });
    subprocess.stderr?.on("data", (chunk: Buffer) => {
      keepHead(chunk);
      log.push(chunk);
    });
    const sampler = options.loadSampler?.start() ?? startCpuSampler(subprocess.pid);
    const result = await subprocess;
    const saturation = sampler.stop();
    clearTimeout(derivedTimer);
    // Inspect is done by now unless k6 run ended first (a script that fails at once).
    const { requirements, maxDurationMs } = await planned;
    clearTimeout(derivedTimer);
    const hitDerivedLimit = deadline.signal.aborted && !options.signal.aborted;
    log.end();
    stdout.end();
    await fifo.finish();
    stream.end();
    const measured: Measured = streamed
      ? { from: "stream", stream }
      : { from: "summary-export", text: Buffer.concat(exported).toString("utf8") };
    const spawnFailed = result.exitCode === undefined && result.signal === undefined;
    return {
      exitCode: result.exitCode ?? null,
      signal: result.signal ?? null,
      timedOut: result.timedOut || hitDerivedLimit,
      cancelled: result.isCanceled && !hitDerivedLimit,
      measured,
      declaredThresholds: requirements?.thresholds ?? null,
      output,
      head: Buffer.concat(head).toString("utf8"),
      durationMs: Math.round(performance.now() - started),
      spawnError: spawnFailed ? (result.shortMessage ?? "unknown error") : null,
      maxDurationMs,
      scriptDurationMs:
        options.maxDurationMs === undefined && maxDurationMs < options.maxRunDurationMs
          ? (requirements?.scenariosMs ?? null)
          : null,
      plan: requirements?.plan ?? null,
      log,
      saturation,
    };
  } finally {
    await fifo?.close();
    await rm(runDir, { recursive: true, force: true });
  }
}

/** k6 itself, or k6 under setpriv: dying with the worker, as another user, or both. */
function launch(options: RunK6Options, k6Args: string[]): [string, string[]] {
  const { runAs } = options;
  const setpriv = [
    ...(options.pdeathsig ? ["--pdeathsig", "KILL"] : []),
    ...(runAs
      ? ["--reuid", `${runAs.uid}`, "--regid", `${runAs.gid}`, "--clear-groups", "--no-new-privs"]
      : []),
  ];
  return setpriv.length
    ? ["setpriv", [...setpriv, "--", options.k6Bin, ...k6Args]]
    : [options.k6Bin, k6Args];
}

/** What k6 must read or write becomes its user's, when it runs as another one. */
async function handOver(options: RunK6Options, path: string): Promise<void> {
  if (options.runAs) await chown(path, options.runAs.uid, options.runAs.gid);
}

/**
 * `k6 inspect --execution-requirements`, or undefined when it fails (k6 run then reports
 * the script's error). `--include-system-env-vars`: `k6 run` gives `__ENV` the process
 * environment by default, `k6 inspect` does not, and options may read env_vars.
 */
async function inspectScript(
  options: RunK6Options,
  runDir: string,
  env: Record<string, string>,
): Promise<ExecutionRequirements | undefined> {
  const inspect = async (inspectEnv: Record<string, string>) => {
    const [file, args] = launch(options, [
      "inspect",
      "--execution-requirements",
      "--include-system-env-vars",
      "script.js",
    ]);
    const result = await execa(file, args, {
      cwd: runDir,
      env: inspectEnv,
      extendEnv: false,
      stdin: "ignore",
      stderr: "ignore",
      reject: false,
      maxBuffer: 1024 * 1024,
      timeout: INSPECT_TIMEOUT_MS,
      cancelSignal: options.signal,
      forceKillAfterDelay: options.killGraceMs,
    });
    return result.exitCode === 0 ? parseExecutionRequirements(result.stdout) : undefined;
  };
  // Unlike `k6 run`, `k6 inspect` does not default to 1 VU, so a script that sets only
  // `iterations` or `duration` fails it; k6 run's default is given on a second try.
  return (
    (await inspect(env)) ??
    (env.K6_VUS === undefined && !options.signal.aborted
      ? await inspect({ ...env, K6_VUS: "1" })
      : undefined)
  );
}
