import { z } from "zod";
import { runResultSchema, type RunIdentity, type RunResult, type RunStatus } from "./run";

/**
 * What lists of runs read from a result (the dashboard's canaries, /metrics, a worker's
 * baseline): its figures, without thresholds, reasons, the k6 plan or warnings. Stored
 * beside the result when the verdict is recorded, so a list reads a few hundred bytes per
 * run instead of the whole result.
 */
export const runFiguresSchema = runResultSchema.pick({
  metrics: true,
  durationMs: true,
  testDigest: true,
  stats: true,
  saturation: true,
  comparison: true,
});
export type RunFigures = z.infer<typeof runFiguresSchema>;

export function figuresOf(result: RunResult): RunFigures {
  const { metrics, durationMs, testDigest, stats, saturation, comparison } = result;
  return { metrics, durationMs, testDigest, stats, saturation, comparison };
}

/** A run as lists show it (RunStore.summaries): who it is, how it ended, its figures. */
export interface RunSummary extends RunIdentity {
  id: string;
  status: RunStatus;
  verdict: "pass" | "fail" | null;
  outcome: RunResult["outcome"] | null;
  enqueuedAt: number;
  finishedAt: number | null;
  /** The result's figures; null until the run is judged. */
  result: RunFigures | null;
}
