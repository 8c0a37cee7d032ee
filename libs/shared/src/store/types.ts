import { createHash } from "node:crypto";
import type { K6Progress } from "../k6-progress";
import type { RunJob } from "../queue";
import type { RunCaller, RunRecord, RunResult } from "../run";

/** What RunStore's reads and writes take and return (run-store.ts, run-history.ts). */

/** A run ended by a newer revision's run, and the status it had then. */
export interface SupersededRun {
  id: string;
  was: "queued" | "running";
}

/**
 * What an owner may keep in Redis, checked when a call would create a run (decision 44);
 * 0: no quota. Its output bytes are bounded where output is written
 * (`RetentionPolicy.maxOutputBytesPerOwner`).
 */
export interface OwnerQuotas {
  /** Canaries with runs within the history's age. */
  maxCanaries: number;
  /** Distinct scripts run within the history's age. */
  maxScripts: number;
}

export const quotaNames = ["canaries", "scripts"] as const;
export type QuotaName = (typeof quotaNames)[number];

export type Decision =
  | { action: "attach" | "deliver" | "recent_failure"; run: RunRecord }
  | { action: "created"; run: RunRecord; superseded: SupersededRun[] }
  | { action: "quota"; quota: QuotaName; used: number; limit: number }
  | { action: "busy" };

export interface DecideInput {
  /** What the job will run: stored with the run so it can be queued again after a crash. */
  job: Omit<RunJob, "runId">;
  minFailureDelayMs: number;
  maxQueueDepth: number;
  now: number;
  /**
   * A created run ends the canary's queued and running runs of the same phase for other
   * revisions (metadata `supersede`, default true); false also keeps this run from being
   * superseded later.
   */
  supersede?: boolean;
  /** Who called: recorded on the runs this call supersedes. */
  caller?: RunCaller;
  /** Whose run it is for fair sharing and quotas (`ownerOf`); absent: its namespace's. */
  owner?: string;
  /** The owner's quotas; absent: none. */
  quotas?: OwnerQuotas;
  /**
   * The call will long-poll: the run it attaches to or creates is marked waited on by this
   * API process (`holder`) for `leaseMs`, in the same script, so no new revision can
   * supersede it in between (decision 41). Absent (`wait_for_results: "false"`): no lease.
   */
  waiter?: WaitLease;
}

/** An API process's lease on the runs its calls wait on (decision 41). */
export interface WaitLease {
  holder: string;
  leaseMs: number;
}

/** A script's SHA-256 (hex): how scripts are kept and counted, once per content. */
export const scriptDigestOf = (script: string): string =>
  createHash("sha256").update(script).digest("hex");

/**
 * The unit fair sharing and caps count by (decision 42): the webhook token a call presented
 * when it is bound to namespaces (one team, however many namespaces it spans), else the
 * namespace (no tokens, or `WEBHOOK_TOKEN`, which everyone holds alike).
 */
export function ownerOf(namespace: string, boundTokenName?: string | null): string {
  return boundTokenName ? `token:${boundTokenName}` : `namespace:${namespace}`;
}

export interface StartInput {
  worker: string;
  attemptToken: string;
  now?: number;
  /** Running k6 one owner (`ownerOf`) may have at once; 0 or undefined: no cap. */
  maxRunsPerOwner?: number;
  /** How long the attempt's owner slot lasts without a heartbeat. */
  leaseMs?: number;
}

/** `deferred`: the run's owner is at its cap; nothing was written, try again shortly. */
export type StartOutcome =
  { state: "started"; run: RunRecord } | { state: "finished" | "missing" | "deferred" };

export interface CancelInput {
  reason: string;
  /** Who asked (the dashboard login), recorded on the run. */
  by: string;
  now?: number;
}

/** `cancelled`: ended now (`was` its status before); `finished`: it had a verdict already. */
export type CancelOutcome =
  | { state: "cancelled"; run: RunRecord; was: "queued" | "running" }
  | { state: "finished"; run: RunRecord }
  | { state: "missing" };

/** What a running attempt's heartbeat learned: go on, or stop k6 (and why). */
export type HeartbeatOutcome =
  { state: "running" } | { state: "ended"; reason: string } | { state: "lost" };

/** A queued run's place: `ahead` runs will be taken before it, of `queued` waiting. */
export interface QueueStanding {
  ahead: number;
  queued: number;
}

export interface FinishInput {
  result: RunResult;
  /** The attempt recording it; empty ends the run whatever attempt holds it (job gone). */
  attemptToken: string;
  /** Stored with the verdict; undefined leaves the output as it is. */
  output?: string;
  now?: number;
}

/** What a running attempt tells of its k6 (RunStore.setK6Progress). */
export interface K6ProgressUpdate {
  started?: { at: number; expectedMs: number | null };
  progress?: K6Progress;
}

/** `recorded`: this call wrote the verdict; `stale`: another attempt holds the run. */
export type FinishOutcome =
  { state: "recorded" | "already" | "stale"; run: RunRecord } | { state: "missing" };

export interface Canary {
  namespace: string;
  name: string;
  lastRunAt: number;
}

/** Runs not yet judged, per canary. */
export interface InFlightCounts {
  queued: number;
  running: number;
}

/** A run the in-flight sets count, as the reconciler sees it. */
export interface InFlightRun {
  id: string;
  set: "queued" | "running";
  /** The run's own status; null when its record is gone. */
  status: RunRecord["status"] | null;
}
