import { chmodSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { K6_BIN } from "./paths";

export interface K6Wrapper {
  /**
   * Use as K6_BIN: logs "start <pid> <tag>" / "end <pid> <tag>" around each test the real
   * k6 runs; the tag is the run's TEST_TAG (give it in `env_vars`), empty without one.
   */
  bin: string;
  starts(): number;
  /** Tests started with this tag. */
  startsOf(tag: string): number;
  /** Tests with this tag that ended. */
  endsOf(tag: string): number;
  /** Most k6 processes (with `tag`, or any) that ran at the same time, from the log. */
  maxConcurrent(tag?: string): number;
}

/** A K6_BIN that records each invocation and then runs the real k6 binary. */
export function k6Wrapper(): K6Wrapper {
  const dir = mkdtempSync(join(tmpdir(), "k6-gate-wrapper-"));
  const log = join(dir, "invocations.log");
  const bin = join(dir, "k6");
  // Signals are forwarded so the worker's SIGTERM/SIGKILL timing reaches the real k6.
  // `k6 inspect`, which the worker runs before each test, and `k6 version` (once per worker,
  // for the run page) are not tests: not logged.
  writeFileSync(
    bin,
    [
      "#!/bin/sh",
      `[ "$1" = inspect ] && exec '${K6_BIN}' "$@"`,
      `[ "$1" = version ] && exec '${K6_BIN}' "$@"`,
      `echo "start $$ \${TEST_TAG:-}" >> '${log}'`,
      `'${K6_BIN}' "$@" &`,
      "child=$!",
      "trap 'kill -TERM $child 2>/dev/null' TERM INT",
      "wait $child; code=$?",
      "while kill -0 $child 2>/dev/null; do wait $child; code=$?; done",
      `echo "end $$ \${TEST_TAG:-}" >> '${log}'`,
      "exit $code",
      "",
    ].join("\n"),
  );
  chmodSync(bin, 0o755);
  const entries = () =>
    (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []).map((line) => {
      const [event = "", , tag = ""] = line.split(" ");
      return { event, tag };
    });
  const count = (event: string, tag: string) =>
    entries().filter((entry) => entry.event === event && entry.tag === tag).length;
  return {
    bin,
    starts: () => entries().filter((entry) => entry.event === "start").length,
    startsOf: (tag) => count("start", tag),
    endsOf: (tag) => count("end", tag),
    maxConcurrent: (tag) => {
      let current = 0;
      let max = 0;
      for (const entry of entries()) {
        if (tag !== undefined && entry.tag !== tag) continue;
        current += entry.event === "start" ? 1 : -1;
        max = Math.max(max, current);
      }
      return max;
    },
  };
}
