import { z } from "zod";
import { parseDuration } from "./duration";
import type { K6Plan } from "./k6-plan";

/**
 * How far a running k6 is, from the progress k6 v2.2.0 prints on stdout without `--quiet`.
 * On a pipe (not a TTY) it prints a block each second:
 *
 *     running (00m12.0s), 2/5 VUs, 58 complete and 0 interrupted iterations
 *     a      [ 100% ] 2 VUs    12.0s/12s
 *     b    ✓ [ 100% ] 1 VUs    00m01.5s/10m0s  3/3 iters, 3 per VU
 *
 * (before the scenarios start: `Init [ 0% ] 0/1 VUs initialized`, `Run [ 100% ] setup()`),
 * each block ended by a blank line. The worker keeps the blocks out of the run's output and
 * stores only the latest `running` line's figures.
 */
export const k6ProgressSchema = z.object({
  /** VUs active now, of the most the scenarios may use. */
  vus: z.number().int().nonnegative(),
  maxVUs: z.number().int().nonnegative(),
  /** Iterations completed so far, and those cut short (exception, graceful stop). */
  iterations: z.number().int().nonnegative(),
  interrupted: z.number().int().nonnegative(),
});
export type K6Progress = z.infer<typeof k6ProgressSchema>;

const RUNNING =
  /^running \([^)]{1,24}\), (\d{1,9})\/(\d{1,9}) VUs, (\d{1,15}) complete and (\d{1,15}) interrupted iterations$/;
/** A bar: a phase (`Init`, `Run`) or a scenario, with an optional mark (✓ done, • waiting). */
const BAR = /^(\S+)\s+(?:\S\s+)?\[\s*\d{1,3}%\s*\]/;
const PHASES = new Set(["Init", "Run"]);

/** The figures of a `running (…)` line; undefined for any other line. */
export function parseProgressLine(line: string): K6Progress | undefined {
  const match = RUNNING.exec(line.trimEnd());
  if (!match) return undefined;
  const [, vus, maxVUs, iterations, interrupted] = match.map(Number);
  return k6ProgressSchema.parse({ vus, maxVUs, iterations, interrupted });
}

/** The first line of a progress block: a `running (…)` line or a phase bar. */
export function startsProgressBlock(line: string): boolean {
  const trimmed = line.trimEnd();
  return RUNNING.test(trimmed) || PHASES.has(BAR.exec(trimmed)?.[1] ?? "");
}

/** A scenario's (or phase's) bar: the lines after a block's first one. */
export function isProgressBar(line: string): boolean {
  return BAR.test(line);
}

/** A scenario's own time: its duration, or its stages'; undefined when iterations decide it. */
function scenarioMs(scenario: K6Plan["scenarios"][number]): number | undefined {
  if (scenario.stages?.length) {
    let total = 0;
    for (const stage of scenario.stages) {
      const ms = parseDuration(stage.duration);
      if (ms === undefined) return undefined;
      total += ms;
    }
    return total;
  }
  return scenario.duration === undefined ? undefined : parseDuration(scenario.duration);
}

/**
 * How long the scenarios should run: the latest a scenario ends (its start time plus its
 * duration or stages), without graceful stops (k6 inspect's totalDuration counts them,
 * 30s each by default, and a healthy run does not use them). Null when a scenario is
 * bounded by iterations (its time is the target's), or there is none.
 */
export function expectedDurationMs(plan: Pick<K6Plan, "scenarios">): number | null {
  let latest: number | null = null;
  for (const scenario of plan.scenarios) {
    const length = scenarioMs(scenario);
    const start = scenario.startTime ? parseDuration(scenario.startTime) : 0;
    if (length === undefined || start === undefined) return null;
    latest = Math.max(latest ?? 0, start + length);
  }
  return latest === 0 ? null : latest;
}

/** A running run's progress as the API and the run page show it. */
export interface RunK6Progress extends Partial<K6Progress> {
  /** Since this attempt's `k6 run` started (the attempt's start until then). */
  elapsedMs: number;
  /** The scenarios' expected time, else the canary's previous run's; null when neither is known. */
  expectedMs: number | null;
  /** Where `expectedMs` comes from. */
  expectedFrom: "script" | "previous run" | null;
}

/**
 * The progress of a running run from its record; null when it is not running. `previousMs`
 * (the canary's last run time) stands in when the script does not say how long it runs.
 */
export function progressOf(
  run: {
    status: string;
    startedAt: number | null;
    k6StartedAt: number | null;
    expectedMs: number | null;
    k6Progress: K6Progress | null;
  },
  now: number,
  previousMs: number | null = null,
): RunK6Progress | null {
  const since = run.k6StartedAt ?? run.startedAt;
  if (run.status !== "running" || since === null) return null;
  const expectedMs = run.expectedMs ?? previousMs;
  return {
    elapsedMs: Math.max(0, now - since),
    expectedMs,
    expectedFrom: run.expectedMs !== null ? "script" : expectedMs !== null ? "previous run" : null,
    ...run.k6Progress,
  };
}
