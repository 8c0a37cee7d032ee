import type { RedisClient } from "@k6-gate/shared";
import type { Logger, RunStore } from "@k6-gate/shared";

/** How a running attempt learned that its run ended under it. */
export type StopVia = "message" | "heartbeat";

/** `takenOver`: another attempt holds the run, which goes on there (not ended). */
type OnStop = (reason: string, via: StopVia, takenOver: boolean) => void;

interface Watched {
  attemptToken: string;
  stop: OnStop;
  stopped: boolean;
  timer: NodeJS.Timeout;
}

export interface RunStopsOptions {
  /** How often each running attempt checks its run and renews its namespace slot. */
  heartbeatMs: number;
  /** How long a namespace slot lasts without a heartbeat (the worker's LOCK_DURATION). */
  leaseMs: number;
}

/**
 * Tells this worker's running attempts to stop when their run ends under them (superseded
 * by a new revision, cancelled by an operator). Two ways, whichever comes first: the
 * message the ending script publishes on the store's stop channel (milliseconds), and each
 * attempt's heartbeat (every `heartbeatMs`), which also covers messages lost while the
 * subscription reconnects and attempts another worker took over. The heartbeat renews the
 * attempt's owner slot (MAX_RUNS_PER_OWNER).
 */
export class RunStops {
  private readonly watched = new Map<string, Watched>();

  constructor(
    private readonly subscriber: RedisClient,
    private readonly store: RunStore,
    private readonly logger: Logger,
    private readonly options: RunStopsOptions,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on("message", (channel: string, message: string) => {
      if (channel !== this.store.stopChannel) return;
      const stop = parseStop(message);
      if (stop) this.fire(stop.runId, stop.reason, "message");
    });
    await this.subscriber.subscribe(this.store.stopChannel);
  }

  /**
   * Watches one attempt until the returned function is called; `stop` is called at most
   * once, when the run has ended (or another attempt holds it).
   */
  watch(runId: string, attemptToken: string, stop: OnStop): () => void {
    const timer = setInterval(() => {
      this.store
        .heartbeat(runId, attemptToken, this.options.leaseMs)
        .then((beat) => {
          if (beat.state === "ended") this.fire(runId, beat.reason, "heartbeat");
          if (beat.state === "lost")
            this.fire(runId, "another attempt holds this run", "heartbeat", true);
        })
        .catch((error: unknown) => this.logger.warn({ runId, err: error }, "heartbeat failed"));
    }, this.options.heartbeatMs);
    timer.unref();
    const entry: Watched = { attemptToken, stop, stopped: false, timer };
    this.watched.set(runId, entry);
    return () => {
      clearInterval(timer);
      if (this.watched.get(runId) === entry) this.watched.delete(runId);
    };
  }

  private fire(runId: string, reason: string, via: StopVia, takenOver = false): void {
    const entry = this.watched.get(runId);
    if (!entry || entry.stopped) return;
    entry.stopped = true;
    entry.stop(reason, via, takenOver);
  }
}

function parseStop(message: string): { runId: string; reason: string } | undefined {
  try {
    const parsed = JSON.parse(message) as { runId?: unknown; reason?: unknown };
    if (typeof parsed.runId !== "string") return undefined;
    return { runId: parsed.runId, reason: typeof parsed.reason === "string" ? parsed.reason : "" };
  } catch {
    return undefined;
  }
}
