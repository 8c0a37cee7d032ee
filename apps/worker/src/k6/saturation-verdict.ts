import type { RunResult, Saturation } from "@k6-gate/shared";
import { SATURATED_AT } from "./cpu-usage";

/** Below this share of saturated samples a busy k6 is a blip (its start, a GC), not the run. */
const SIGNIFICANT_SHARE = 0.25;
/** Fewer samples (about a second of run) say nothing either way. */
const MIN_SAMPLES = 4;

const percent = (share: number) => `${Math.round(share * 100)}%`;
const cpusText = (cpus: number) => `${cpus} ${cpus === 1 ? "CPU" : "CPUs"}`;

/** True when k6 lacked CPU for enough of the run that its latency figures include its own wait. */
export function isSaturated(saturation: Saturation | undefined): saturation is Saturation {
  return (
    saturation !== undefined &&
    saturation.samples >= MIN_SAMPLES &&
    saturation.share >= SIGNIFICANT_SHARE
  );
}

/**
 * The verdict with k6's CPU use: recorded always, a warning when k6 was saturated, and
 * with `fail_on_saturation` a pass turned into a fail (outcome `saturated`). A fail stays
 * as it is: its own reason says more than a busy load generator does.
 */
export function judgeSaturation(
  result: RunResult,
  saturation: Saturation | undefined,
  failOnSaturation: boolean,
): RunResult {
  if (!saturation) return result;
  if (!isSaturated(saturation)) return { ...result, saturation };
  const warning = `load generator saturated for ${percent(saturation.share)} of the run: latency figures are inflated`;
  const judged = { ...result, saturation, warnings: [...(result.warnings ?? []), warning] };
  if (!failOnSaturation || result.verdict !== "pass") return judged;
  return {
    ...judged,
    verdict: "fail",
    outcome: "saturated",
    reason: `k6 used at least ${percent(SATURATED_AT)} of its ${cpusText(saturation.cpus)} in ${percent(saturation.share)} of samples (fail_on_saturation): the figures measure the load generator, not the target`,
  };
}
