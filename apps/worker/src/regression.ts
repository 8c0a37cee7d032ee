import { createHash } from "node:crypto";
import { tokenizer } from "acorn";
import {
  beyondLimit,
  COMPARED_BY_DEFAULT,
  DEFAULT_BASELINE_RUNS,
  formatChange,
  formatStat,
  parseLimit,
  passedRevisionsText,
  type Comparison,
  type ComparisonEntry,
  type RunJob,
  type RunResult,
  type RunSummary,
} from "@k6-gate/shared";
import { isSaturated } from "./k6/saturation-verdict";

/** Runs of a canary read first to find its baseline: most canaries' last revisions. */
export const RECENT_HISTORY = 40;
/** Read when those hold too few revisions: enough for 50 revisions of a few phases. */
export const BASELINE_HISTORY = 200;

/**
 * The script as its tokens: comments, blank lines, indentation and line breaks changed in
 * a script leave them as they were. A script that does not parse is its own text.
 */
function scriptTokens(script: string): string {
  try {
    const tokens: string[] = [];
    for (const token of tokenizer(script, { ecmaVersion: "latest", sourceType: "module" })) {
      // A string by its value, so quotes ('a' or "a") are style too; the rest by its text.
      const text =
        token.type.label === "string" && "value" in token
          ? String(token.value)
          : script.slice(token.start, token.end);
      tokens.push(`${token.type.label}\u0000${text}`);
    }
    return tokens.join("\u0001");
  } catch {
    return script;
  }
}

/**
 * What makes two runs the same test, so one may be the other's baseline (decisions.md):
 * the script's tokens (what it does: requests, load, thresholds), and `env_vars` and
 * `kubernetes_secrets` (where it goes and with what load, when the script reads them from
 * `__ENV`). A comment or reformatting keeps the baseline; another target, load or
 * threshold starts a new one.
 */
export function testDigest(run: Pick<RunJob, "script" | "envVars" | "kubernetesSecrets">): string {
  const sorted = (object: Record<string, unknown>) =>
    Object.entries(object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash("sha256")
    .update(
      JSON.stringify([
        scriptTokens(run.script),
        sorted(run.envVars),
        sorted(run.kubernetesSecrets),
      ]),
    )
    .digest("hex")
    .slice(0, 16);
}

interface BaselineRun {
  checksum: string;
  stats: Record<string, number>;
}

/**
 * The runs a run is compared with (design: one per revision, newest first): the newest
 * passed run of each of the last `count` other revisions of the same canary and phase that
 * ran the same script on a load generator that had the CPU it needed. One per revision, because a rollout phase runs a revision's check
 * every interval: per-run, the last revision alone would be the baseline.
 */
export function baselineRunsOf(
  history: RunSummary[],
  run: Pick<RunJob, "runId" | "phase" | "checksum">,
  digest: string,
  count: number,
): BaselineRun[] {
  const revisions = new Set<string>();
  const chosen: BaselineRun[] = [];
  for (const record of history) {
    if (chosen.length >= count) break;
    const result = record.result;
    if (
      record.id === run.runId ||
      record.phase !== run.phase ||
      record.checksum === run.checksum ||
      record.verdict !== "pass" ||
      !result?.stats ||
      result.testDigest !== digest ||
      // Its figures measured a starved load generator, not the revision.
      isSaturated(result.saturation) ||
      revisions.has(record.checksum)
    ) {
      continue;
    }
    revisions.add(record.checksum);
    chosen.push({ checksum: record.checksum, stats: result.stats });
  }
  return chosen;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** This run's stats against the baseline's medians, for the default keys and every limit. */
export function compareToBaseline(
  stats: Record<string, number>,
  baseline: BaselineRun[],
  limits: Record<string, string>,
): Comparison {
  const keys = [...new Set<string>([...COMPARED_BY_DEFAULT, ...Object.keys(limits)])];
  const entries = keys.map((key): ComparisonEntry => {
    const observed = stats[key] ?? null;
    const values = baseline.flatMap((run) => (key in run.stats ? [run.stats[key] as number] : []));
    const base = values.length ? median(values) : null;
    const limitText = limits[key] ?? null;
    const limit = limitText === null ? undefined : parseLimit(limitText);
    const regressed =
      limit !== undefined &&
      observed !== null &&
      base !== null &&
      beyondLimit(observed, base, limit);
    return { key, observed, baseline: base, limit: limitText, regressed };
  });
  return { baselineRuns: baseline.length, revisions: baseline.map((run) => run.checksum), entries };
}

const describeRegression = (entry: ComparisonEntry, runs: number) =>
  `${entry.key} ${formatStat(entry.key, entry.observed)} against a baseline of ${formatStat(entry.key, entry.baseline)} (median of ${passedRevisionsText(runs)}): ${formatChange(entry) ?? "?"}, beyond max_regression ${entry.limit}`;

const NO_BASELINE =
  "max_regression NOT applied: no baseline yet (no passed run of an earlier revision of this test; a passed run becomes the baseline)";

/**
 * The verdict after the comparison: a pass that regressed beyond a `max_regression` limit
 * fails (`regressed`); a limit on a stat this run did not produce fails for lack of evidence
 * (it was asked to gate on it); no baseline yet passes and says so.
 */
export function judgeRegression(
  result: RunResult,
  comparison: Comparison,
  limits: Record<string, string>,
): RunResult {
  const judged = { ...result, comparison };
  if (result.verdict !== "pass" || Object.keys(limits).length === 0) return judged;
  const limited = comparison.entries.filter((entry) => entry.limit !== null);
  const absent = limited.filter((entry) => entry.observed === null);
  if (absent.length) {
    return {
      ...judged,
      verdict: "fail",
      outcome: "no_evidence",
      reason: absent
        .map((entry) => `max_regression ${entry.key}: the run has no such metric or stat`)
        .join("; "),
    };
  }
  const regressed = limited.filter((entry) => entry.regressed);
  if (regressed.length) {
    return {
      ...judged,
      verdict: "fail",
      outcome: "regressed",
      reason: regressed
        .map((entry) => describeRegression(entry, comparison.baselineRuns))
        .join("; "),
    };
  }
  // In the reason, not among the warnings: the gate the canary asked for did not apply.
  if (comparison.baselineRuns === 0) {
    return { ...judged, reason: `${result.reason}; ${NO_BASELINE}` };
  }
  const warnings = [...(result.warnings ?? [])];
  const unknown = limited.filter((entry) => entry.baseline === null && comparison.baselineRuns > 0);
  for (const entry of unknown) {
    warnings.push(`max_regression ${entry.key}: not in the baseline runs yet, not applied`);
  }
  return { ...judged, warnings };
}

/**
 * The baseline of `run` from its canary's newest runs, read further back (up to
 * BASELINE_HISTORY) only when they hold fewer revisions than the baseline wants.
 */
export async function baselineOf(
  run: RunJob,
  digest: string,
  recent: RunSummary[],
  history: ((run: RunJob, limit: number) => Promise<RunSummary[]>) | undefined,
): Promise<BaselineRun[]> {
  const size = run.baselineRuns ?? DEFAULT_BASELINE_RUNS;
  const chosen = baselineRunsOf(recent, run, digest, size);
  if (chosen.length >= size || recent.length < RECENT_HISTORY || !history) return chosen;
  return baselineRunsOf(await history(run, BASELINE_HISTORY), run, digest, size);
}
