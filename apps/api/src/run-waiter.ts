import { randomUUID } from "node:crypto";
import type { RedisClient } from "@k6-gate/shared";
import type { RunRecord, RunStore, WaitLease } from "@k6-gate/shared";
import { isRedisUnavailable } from "./redis-errors";

/** How soon a wait reads again after Redis could not be reached (jittered like re-checks). */
const UNAVAILABLE_RETRY_MS = 500;

/**
 * How long a run stays marked waited on after this process last renewed it (decision 41):
 * renewed every third of it while a call waits, so one missed renewal does not lapse it; a
 * process that dies lets it lapse within this.
 */
export const WAIT_LEASE_MS = 10_000;

export type WaitOutcome =
  | { state: "finished"; record: RunRecord }
  | { state: "timeout"; record: RunRecord }
  | { state: "aborted" }
  | { state: "missing" };

/**
 * Long-polls on runs. One Redis subscription per API process wakes every waiter of a
 * run when a worker records its verdict; a slow re-check covers messages lost while the
 * subscription reconnects. Waiting holds no Redis connection per caller.
 */
export class RunWaiter {
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Calls holding a lease: those being decided or long-polled on this process. */
  inFlight = 0;
  private closed = false;
  /**
   * This process's lease on the runs its calls wait on: DECIDE supersedes none of them
   * (decision 41). Passed to DECIDE by a call that will wait, renewed here while it does.
   */
  readonly waitLease: WaitLease;
  /** Calls waiting on each run here: its lease is renewed while there is one. */
  private readonly held = new Map<string, number>();
  private renewal: NodeJS.Timeout | undefined;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly store: RunStore,
    private readonly recheckMs = 3000,
    leaseMs = WAIT_LEASE_MS,
  ) {
    this.waitLease = { holder: randomUUID(), leaseMs };
  }

  async start(): Promise<void> {
    // The subscriber may carry other channels too (the all-in-one process shares it).
    this.subscriber.on("message", (channel: string, runId: string) => {
      if (channel === this.store.finishedChannel) this.wake(runId);
    });
    // A verdict published while the subscription was down (a failover) never arrives: once
    // ioredis has subscribed again, every waited-on run is read again rather than at its
    // next re-check.
    this.subscriber.on("ready", () => {
      for (const runId of [...this.waiters.keys()]) this.wake(runId);
    });
    await this.subscriber.subscribe(this.store.finishedChannel);
  }

  private wake(runId: string): void {
    const set = this.waiters.get(runId);
    if (!set) return;
    this.waiters.delete(runId);
    for (const resolve of set) resolve();
  }

  /**
   * Registers for the next wake-up (the run's verdict, a re-check tick, the deadline or
   * the caller leaving) before the caller reads the run, so no verdict slips in between.
   */
  private nextWake(
    runId: string,
    ms: number,
    signal: AbortSignal | undefined,
  ): { woken: Promise<void>; cancel: () => void } {
    let set = this.waiters.get(runId);
    if (!set) this.waiters.set(runId, (set = new Set()));
    const waiters = set;
    let cancel = () => {};
    const woken = new Promise<void>((resolve) => {
      const timer = setTimeout(() => cancel(), ms);
      cancel = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", cancel);
        waiters.delete(cancel);
        if (waiters.size === 0 && this.waiters.get(runId) === waiters) this.waiters.delete(runId);
        resolve();
      };
      signal?.addEventListener("abort", cancel, { once: true });
      waiters.add(cancel);
    });
    return { woken, cancel };
  }

  /**
   * Takes one of `max` slots for a call, synchronously (no await between the check and the
   * count), or undefined when all are taken. Release it when the call is answered.
   */
  lease(max: number): { release: () => void } | undefined {
    if (this.inFlight >= max) return undefined;
    this.inFlight++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.inFlight--;
      },
    };
  }

  /**
   * Waits for a run's verdict, keeping the run marked waited on meanwhile; the mark is
   * dropped once no call here waits on it (a caller gone, answered or timed out), so a new
   * revision may supersede it from then on.
   */
  async wait(runId: string, timeoutMs: number, signal?: AbortSignal): Promise<WaitOutcome> {
    this.hold(runId);
    try {
      return await this.waitFor(runId, timeoutMs, signal);
    } finally {
      await this.unhold(runId);
    }
  }

  private hold(runId: string): void {
    const count = (this.held.get(runId) ?? 0) + 1;
    this.held.set(runId, count);
    // DECIDE set it already; again, after a release by an earlier call here that may have
    // landed after it. A renewal that fails lets the lease lapse: a supersede may then
    // cost a rerun, never a verdict.
    if (count === 1) this.store.holdWaited([runId], this.waitLease).catch(() => {});
    this.renewal ??= setInterval(() => {
      this.store.holdWaited([...this.held.keys()], this.waitLease).catch(() => {});
    }, this.waitLease.leaseMs / 3).unref();
  }

  private async unhold(runId: string): Promise<void> {
    const count = (this.held.get(runId) ?? 1) - 1;
    if (count > 0) {
      this.held.set(runId, count);
      return;
    }
    this.held.delete(runId);
    if (this.held.size === 0) {
      clearInterval(this.renewal);
      this.renewal = undefined;
    }
    // Unreachable Redis: the lease lapses by itself within WAIT_LEASE_MS.
    await this.store.releaseWaited(runId, this.waitLease.holder).catch(() => {});
  }

  private async waitFor(
    runId: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<WaitOutcome> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (signal?.aborted) return { state: "aborted" };
      const next = this.nextWake(
        runId,
        // Jittered, so a thousand waiters do not re-read Redis in one burst.
        Math.max(1, Math.min(deadline - Date.now(), this.recheckMs * (0.5 + Math.random()))),
        signal,
      );
      let record: RunRecord | null;
      try {
        record = await this.store.get(runId);
      } catch (error) {
        next.cancel();
        // Redis away for a moment (a Sentinel failover takes seconds): a 503 now would fail
        // every held call at once, and a retry after a sibling call took the verdict starts
        // the check again. Read again shortly instead; at the deadline, answer with the error.
        if (!isRedisUnavailable(error) || Date.now() >= deadline || this.closed) throw error;
        const retry = this.nextWake(
          runId,
          Math.max(
            1,
            Math.min(deadline - Date.now(), UNAVAILABLE_RETRY_MS * (0.5 + Math.random())),
          ),
          signal,
        );
        await retry.woken;
        continue;
      }
      if (!record || record.status === "finished" || Date.now() >= deadline || this.closed) {
        next.cancel();
        if (!record) return { state: "missing" };
        return record.status === "finished"
          ? { state: "finished", record }
          : { state: "timeout", record };
      }
      // Closing wakes every waiter; the next read answers with the run's status then.
      await next.woken;
    }
  }

  /** Ends every wait now (API shutdown): callers answer 503 and Flagger retries. */
  releaseAll(): void {
    this.closed = true;
    clearInterval(this.renewal);
    this.renewal = undefined;
    for (const runId of [...this.waiters.keys()]) this.wake(runId);
  }
}
