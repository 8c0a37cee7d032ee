import type { RedisClient } from "@k6-gate/shared";
import type { RunRecord, RunStore } from "@k6-gate/shared";
import { isRedisUnavailable } from "./redis-errors";

/** How soon a wait reads again after Redis could not be reached (jittered like re-checks). */
const UNAVAILABLE_RETRY_MS = 500;

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

  constructor(
    private readonly subscriber: RedisClient,
    private readonly store: RunStore,
    private readonly recheckMs = 3000,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on("message", (_channel: string, runId: string) => this.wake(runId));
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

  async wait(runId: string, timeoutMs: number, signal?: AbortSignal): Promise<WaitOutcome> {
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
    for (const runId of [...this.waiters.keys()]) this.wake(runId);
  }
}
