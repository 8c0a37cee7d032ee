import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { TailBuffer } from "./tail-buffer";

const HEAD_BYTES = 64 * 1024;

export interface RunK6Options {
  k6Bin: string;
  script: string;
  env: (runDir: string) => Record<string, string>;
  /** The k6 command and its mode flags; `run --quiet` unless told otherwise. */
  command?: string[];
  /** Extra files for the run directory (k6's cwd), written private like the script. */
  files?: Record<string, string>;
  maxDurationMs: number;
  killGraceMs: number;
  tmpRoot: string;
  outputMaxBytes: number;
  /** Start k6 under `setpriv --pdeathsig KILL` so it cannot outlive the worker. */
  pdeathsig: boolean;
  signal: AbortSignal;
  onOutput?: (output: TailBuffer) => void;
}

export interface RunK6Outcome {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  summaryText: string | undefined;
  output: TailBuffer;
  /** The first bytes k6 printed (its banner), kept even when the tail drops them. */
  head: string;
  durationMs: number;
  spawnError: string | null;
}

/**
 * Runs k6 once in a fresh private directory (its cwd and HOME), with arguments as an
 * array (no shell), and always removes the directory. Stopping (deadline or `signal`)
 * sends SIGTERM, so k6 still writes its summary, then SIGKILL after `killGraceMs`.
 */
export async function runK6(options: RunK6Options): Promise<RunK6Outcome> {
  const runDir = await mkdtemp(join(options.tmpRoot, "k6-gate-run-"));
  const output = new TailBuffer(options.outputMaxBytes);
  const head: Buffer[] = [];
  let headBytes = 0;
  const started = performance.now();
  try {
    const files = { ...options.files, "script.js": options.script };
    for (const [name, content] of Object.entries(files)) {
      await writeFile(join(runDir, name), content, { mode: 0o600 });
    }
    const k6Args = [
      ...(options.command ?? ["run", "--quiet"]),
      "--no-color",
      "--summary-export",
      "summary.json",
      "script.js",
    ];
    const [file, args] = options.pdeathsig
      ? ["setpriv", ["--pdeathsig", "KILL", "--", options.k6Bin, ...k6Args]]
      : [options.k6Bin, k6Args];
    const subprocess = execa(file, args, {
      cwd: runDir,
      env: options.env(runDir),
      extendEnv: false,
      stdin: "ignore",
      buffer: false,
      reject: false,
      timeout: options.maxDurationMs,
      cancelSignal: options.signal,
      killSignal: "SIGTERM",
      forceKillAfterDelay: options.killGraceMs,
    });
    const collect = (chunk: Buffer) => {
      if (headBytes < HEAD_BYTES) {
        head.push(chunk.subarray(0, HEAD_BYTES - headBytes));
        headBytes += chunk.length;
      }
      output.push(chunk);
      options.onOutput?.(output);
    };
    subprocess.stdout?.on("data", collect);
    subprocess.stderr?.on("data", collect);
    const result = await subprocess;
    const summaryText = await readFile(join(runDir, "summary.json"), "utf8").catch(() => undefined);
    const spawnFailed = result.exitCode === undefined && result.signal === undefined;
    return {
      exitCode: result.exitCode ?? null,
      signal: result.signal ?? null,
      timedOut: result.timedOut,
      cancelled: result.isCanceled,
      summaryText,
      output,
      head: Buffer.concat(head).toString("utf8"),
      durationMs: Math.round(performance.now() - started),
      spawnError: spawnFailed ? (result.shortMessage ?? "unknown error") : null,
    };
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }
}

const ERROR_LINE = /level=error msg="((?:[^"\\]|\\.)*)"/g;

/** The last error k6 logged (text log format), unescaped and trimmed to one line. */
export function lastK6Error(output: string): string | null {
  let last: string | null = null;
  for (const match of output.matchAll(ERROR_LINE)) {
    const message = (match[1] ?? "")
      .replace(/\\n/g, "\n")
      .replace(/\\t/g, " ")
      .replace(/\\"/g, '"');
    if (/thresholds on metrics .* have been crossed/.test(message)) continue;
    last = message.split("\n")[0]?.trim().slice(0, 300) ?? null;
  }
  return last;
}
