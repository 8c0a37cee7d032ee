import { tmpdir } from "node:os";
import { KILL_GRACE_MS, OUTPUT_MAX_BYTES } from "../config";
import { podResultLine } from "../k6/pod-result";
import { runK6 } from "../k6/run-k6";
import type { PodInput } from "./pod-input";

/** The user k6 runs as in a runner pod: not the runner's, so it cannot reach its stdout. */
export const K6_POD_USER = { uid: 65534, gid: 65534 };

/**
 * One run in a runner pod: k6 as a child of this process, exactly as the process runner
 * runs it (run-k6.ts), then the outcome as one line for the worker (pod-result.ts). Run as
 * root, k6 runs as K6_POD_USER: it can neither write this process's stdout (its own is a
 * pipe to us) nor read /proc of a process that is not its own.
 */
export async function runInPod(
  input: PodInput,
  signal: AbortSignal,
  options: { k6Bin: string; runAs: typeof K6_POD_USER | undefined; engineArgs?: string[] },
): Promise<string> {
  const outcome = await runK6({
    k6Bin: options.k6Bin,
    script: input.script,
    env: (runDir) => ({ ...input.env, HOME: runDir, TMPDIR: runDir }),
    maxDurationMs: input.maxDurationMs ?? undefined,
    maxRunDurationMs: input.maxRunDurationMs,
    killGraceMs: KILL_GRACE_MS,
    tmpRoot: tmpdir(),
    outputMaxBytes: OUTPUT_MAX_BYTES,
    pdeathsig: true,
    runAs: options.runAs,
    signal,
    statKeys: input.statKeys,
    engineArgs: options.engineArgs,
  });
  return podResultLine(outcome);
}
