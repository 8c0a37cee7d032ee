import { existsSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { OPERATOR_SHIM_DIR, operatorEngineArgs } from "./operator-flags";
import { POD_INPUT_DIR, POD_INPUT_FILE, podInputSchema } from "./pod-input";
import { K6_POD_USER, runInPod } from "./run-in-pod";

// Entry point of a runner pod: `k6-gate pod-run [run.json]` (the Job runner's pods read
// their Secret's file), or `pod-run --k6-operator run <flags> <script>` (the image's k6
// shim in a k6-operator runner pod: one execution segment of the test, paused until the
// operator starts it). Runs k6, prints the result as its only stdout line. SIGTERM (the
// Job or TestRun deleted: cancel, supersede) stops k6 as the worker would, and the result
// still follows.
const operator = process.argv[2] === "--k6-operator";
const path = (!operator && process.argv[2]) || join(POD_INPUT_DIR, POD_INPUT_FILE);
let input: ReturnType<typeof podInputSchema.parse>;
let engineArgs: string[] = [];
try {
  input = podInputSchema.parse(JSON.parse(readFileSync(path, "utf8")));
  if (operator) engineArgs = operatorEngineArgs(process.argv.slice(3));
} catch (error) {
  const problem = error instanceof Error ? error.message : String(error);
  console.error(`k6-gate pod-run: ${path} is not a run: ${problem}`);
  process.exit(2);
}
/** The image's k6, on this process's PATH but not the operator shim (k6's own PATH is K6_PATH). */
function onPath(command: string): string {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  return (
    dirs
      .filter((dir) => dir !== OPERATOR_SHIM_DIR)
      .map((dir) => join(dir, command))
      .find((path) => existsSync(path)) ?? command
  );
}

const stop = new AbortController();
for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => stop.abort());
const line = await runInPod(input, stop.signal, {
  k6Bin: onPath("k6"),
  // Root (the runner pod's runner): k6 runs as another user; otherwise as this one.
  runAs: process.getuid?.() === 0 ? K6_POD_USER : undefined,
  engineArgs,
});
process.stdout.write(`${line}\n`, () => process.exit(0));
