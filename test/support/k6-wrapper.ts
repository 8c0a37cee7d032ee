import { chmodSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { K6_BIN } from "./paths";

export interface K6Wrapper {
  /** Use as K6_BIN: logs "start <pid>" / "end <pid>" around each test the real k6 runs. */
  bin: string;
  starts(): number;
  /** Most k6 processes that ran at the same time, from the start/end log. */
  maxConcurrent(): number;
}

/** A K6_BIN that records each invocation and then runs the real k6 binary. */
export function k6Wrapper(): K6Wrapper {
  const dir = mkdtempSync(join(tmpdir(), "k6-gate-wrapper-"));
  const log = join(dir, "invocations.log");
  const bin = join(dir, "k6");
  // Signals are forwarded so the worker's SIGTERM/SIGKILL timing reaches the real k6.
  // `k6 inspect`, which the worker runs before each test, is not a test: not logged.
  writeFileSync(
    bin,
    [
      "#!/bin/sh",
      `[ "$1" = inspect ] && exec '${K6_BIN}' "$@"`,
      `echo "start $$" >> '${log}'`,
      `'${K6_BIN}' "$@" &`,
      "child=$!",
      "trap 'kill -TERM $child 2>/dev/null' TERM INT",
      "wait $child; code=$?",
      "while kill -0 $child 2>/dev/null; do wait $child; code=$?; done",
      `echo "end $$" >> '${log}'`,
      "exit $code",
      "",
    ].join("\n"),
  );
  chmodSync(bin, 0o755);
  const lines = () =>
    existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
  return {
    bin,
    starts: () => lines().filter((line) => line.startsWith("start")).length,
    maxConcurrent: () => {
      let current = 0;
      let max = 0;
      for (const line of lines()) {
        current += line.startsWith("start") ? 1 : -1;
        max = Math.max(max, current);
      }
      return max;
    },
  };
}
