import { parseDuration, scenarioOf, type K6Plan } from "@k6-gate/shared";
import { z } from "zod";
import type { DeclaredThreshold } from "./measured-summary";

/**
 * What `k6 inspect --execution-requirements` (k6 v2.2.0) says about a script, read before
 * `k6 run`: how long its scenarios take and which thresholds it declares. It costs one
 * init of the script: about 30 ms for a small script, 150 ms for one building a
 * 20,000-element array at init.
 */
const thresholdSchema = z.union([z.string(), z.object({ threshold: z.string() })]);
const requirementsSchema = z.object({
  /** Every scenario's duration including its gracefulStop, as a Go duration ("1m30s"). */
  totalDuration: z.string(),
  setupTimeout: z.string().nullish(),
  teardownTimeout: z.string().nullish(),
  thresholds: z.record(z.string(), z.array(thresholdSchema)).nullish(),
  /** The scenarios k6 runs (top-level vus/duration/... become `default`); read field by field. */
  scenarios: z.record(z.string(), z.record(z.string(), z.unknown())).nullish(),
  maxVUs: z.number().nullish(),
});

export interface ExecutionRequirements {
  /** k6's own limit on the scenarios, graceful stops included. */
  scenariosMs: number;
  setupTimeoutMs: number;
  teardownTimeoutMs: number;
  /** Every threshold the script declares, by metric (or sub-metric). */
  thresholds: DeclaredThreshold[];
  /** The load the script asks for, for the run page (k6-plan.ts: load shape only, no values). */
  plan: Omit<K6Plan, "version">;
}

/** k6's default setupTimeout and teardownTimeout. */
const K6_PHASE_TIMEOUT_MS = 60_000;

/** The inspect output, or undefined when it is not one k6-gate can use. */
export function parseExecutionRequirements(stdout: string): ExecutionRequirements | undefined {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    return undefined;
  }
  const parsed = requirementsSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const { totalDuration, setupTimeout, teardownTimeout, thresholds, scenarios, maxVUs } =
    parsed.data;
  const scenariosMs = parseDuration(totalDuration);
  if (scenariosMs === undefined || scenariosMs <= 0) return undefined;
  const phase = (value: string | null | undefined) =>
    (value ? parseDuration(value) : undefined) ?? K6_PHASE_TIMEOUT_MS;
  return {
    scenariosMs,
    setupTimeoutMs: phase(setupTimeout),
    teardownTimeoutMs: phase(teardownTimeout),
    thresholds: Object.entries(thresholds ?? {}).flatMap(([metric, list]) =>
      list.map((threshold) => ({
        metric,
        expression: typeof threshold === "string" ? threshold : threshold.threshold,
      })),
    ),
    plan: {
      totalDuration,
      maxVUs: maxVUs ?? null,
      scenarios: Object.entries(scenarios ?? {}).map(([name, raw]) => scenarioOf(name, raw)),
    },
  };
}

const MIN_MARGIN_MS = 60_000;

/**
 * The time limit of a run whose metadata sets no `max_duration`: what the script's own
 * options let k6 take (scenarios with their graceful stops, setup and teardown timeouts),
 * plus half the scenarios' time, at least 1m, for starting VUs, handleSummary and flushing
 * outputs; never past the server's maximum. k6 ends a healthy test well within it, so
 * reaching it means k6 hung, and the gate says so in minutes rather than at the maximum.
 */
export function derivedMaxDurationMs(
  requirements: ExecutionRequirements,
  maxRunDurationMs: number,
): number {
  const { scenariosMs, setupTimeoutMs, teardownTimeoutMs } = requirements;
  const margin = Math.max(MIN_MARGIN_MS, scenariosMs / 2);
  return Math.min(
    Math.round(scenariosMs + setupTimeoutMs + teardownTimeoutMs + margin),
    maxRunDurationMs,
  );
}

/** k6's default `summaryTrendStats`. */
const DEFAULT_TREND_STATS = ["avg", "min", "med", "max", "p(90)", "p(95)"];
/** k6 accepts percentiles in thresholds only in this exact form (`p( 99 )` is an error). */
const PERCENTILE = /\bp\(\d+(?:\.\d+)?\)/g;

/**
 * `--summary-trend-stats` for the run: k6's defaults, `count` (the only way to tell an
 * empty Trend from one whose samples are all 0), and every percentile a threshold or a
 * `max_regression` key reads, so the verdict can show the value it was judged on.
 */
export function summaryTrendStats(expressions: string[]): string {
  const percentiles = expressions.flatMap((expression) => expression.match(PERCENTILE) ?? []);
  return [...new Set([...DEFAULT_TREND_STATS, "count", ...percentiles])].join(",");
}
