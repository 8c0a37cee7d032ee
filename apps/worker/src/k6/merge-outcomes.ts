import { K6Log } from "./k6-log";
import { mergeStreamSnapshots } from "./merge-streams";
import { MetricStream } from "./metric-stream";
import type { RunK6Outcome } from "./run-k6";
import { TailBuffer } from "./tail-buffer";

/** k6's exits that say only how its own segment's thresholds went: data, not the verdict. */
const SEGMENT_VERDICTS = new Set([0, 99]);

/**
 * The outcome of one test run as N k6 in execution segments (a k6-operator TestRun), as
 * one k6 running it all would have reported it (docs/decisions.md, "Runners"): the metric
 * streams merged, so the script's thresholds are judged on every sample; each runner's own
 * threshold exit (99) is dropped, and any other exit, signal, stop or start failure of a
 * runner is the run's. Each runner's output follows a line naming it.
 */
export function mergeOutcomes(parts: RunK6Outcome[], outputMaxBytes: number): RunK6Outcome {
  const first = parts[0];
  if (!first) throw new Error("no runner outcome to merge");
  const streams = parts.map((part) => {
    if (part.measured.from !== "stream") throw new Error("runner pods stream their metrics");
    return part.measured.stream.snapshot();
  });
  const failing = parts.find(
    (part) =>
      part.exitCode === null || !SEGMENT_VERDICTS.has(part.exitCode) || part.spawnError !== null,
  );
  const output = new TailBuffer(outputMaxBytes);
  const log = new K6Log();
  parts.forEach((part, i) => {
    output.push(Buffer.from(`[k6-gate: runner ${i + 1} of ${parts.length}]\n`));
    output.push(Buffer.from(part.output.text()));
    log.interruptedIterations += part.log.interruptedIterations;
    log.firstInterruption ??= part.log.firstInterruption;
    log.lastError = part.log.lastError ?? log.lastError;
  });
  const saturated = parts
    .map((part) => part.saturation)
    .filter((saturation) => saturation !== undefined)
    .sort((a, b) => b.share - a.share);
  return {
    exitCode: failing ? failing.exitCode : 0,
    signal: failing?.signal ?? null,
    timedOut: parts.some((part) => part.timedOut),
    cancelled: parts.some((part) => part.cancelled),
    measured: { from: "stream", stream: MetricStream.fromSnapshot(mergeStreamSnapshots(streams)) },
    declaredThresholds: parts.find((part) => part.declaredThresholds)?.declaredThresholds ?? null,
    output,
    head: first.head,
    durationMs: Math.max(...parts.map((part) => part.durationMs)),
    spawnError: failing?.spawnError ?? null,
    maxDurationMs: Math.max(...parts.map((part) => part.maxDurationMs)),
    scriptDurationMs: first.scriptDurationMs,
    // Every runner inspects the whole script: the load asked of the test, not of a segment.
    plan: parts.find((part) => part.plan)?.plan ?? null,
    log,
    // The most saturated runner: its figures are the least to be trusted.
    saturation: saturated[0],
    runners: parts.length,
  };
}
