import type { WebClient } from "@slack/web-api";
import type { Logger, RunJob, RunRecord, RunResult, RunStore, SlackThread } from "@k6-gate/shared";
import type { WorkerConfig } from "../config";
import type { RunNotifier } from "../notifier";
import { finishedMessage, startedMessage, type SlackMessage } from "./messages";

export interface SlackNotifierDeps {
  client: WebClient;
  store: Pick<RunStore, "setSlackThreads">;
  logger: Logger;
  /** Bound on each Slack call (an upload counts as one). */
  timeoutMs: number;
  publicUrl: string | undefined;
}

/**
 * The notifier for this worker; undefined without SLACK_TOKEN, and then Slack's client
 * (@slack/web-api and its HTTP stack) is never loaded.
 */
export async function slackNotifierFor(
  config: Pick<WorkerConfig, "SLACK_TOKEN" | "SLACK_API_URL" | "SLACK_TIMEOUT" | "PUBLIC_URL">,
  store: SlackNotifierDeps["store"],
  logger: Logger,
): Promise<SlackNotifier | undefined> {
  if (!config.SLACK_TOKEN) return undefined;
  const { createSlackClient } = await import("./slack-client");
  return new SlackNotifier({
    client: createSlackClient({
      token: config.SLACK_TOKEN,
      apiUrl: config.SLACK_API_URL,
      timeoutMs: config.SLACK_TIMEOUT,
      logger,
    }),
    store,
    logger,
    timeoutMs: config.SLACK_TIMEOUT,
    publicUrl: config.PUBLIC_URL,
  });
}

/**
 * One message per channel when a run starts, updated in place with the verdict, and k6's
 * output uploaded into its thread. Thread references are stored with the run, so a run
 * taken up again after a crash edits the same messages. Every failure is logged with the
 * run id and swallowed: the verdict is recorded before any of this runs.
 */
export class SlackNotifier implements RunNotifier {
  /**
   * Threads this worker is posting, by run: a run quicker than Slack must update the
   * messages its start is still posting, not post a second set. Taken by runFinished;
   * dropped by forget for a run that does not finish here (handed back, stale, failed).
   */
  private readonly starting = new Map<string, Promise<SlackThread[]>>();

  constructor(private readonly deps: SlackNotifierDeps) {}

  async runStarted(run: RunJob, record: RunRecord | null): Promise<void> {
    if (run.slackChannels.length === 0) return;
    await this.guarded(run, async () => {
      const message = startedMessage(run, record, this.deps.publicUrl);
      const posting = this.publish(run, record?.slackThreads ?? [], message);
      this.starting.set(run.runId, posting);
      await posting;
    });
  }

  async runFinished(
    run: RunJob,
    record: RunRecord | null,
    result: RunResult,
    output: string,
  ): Promise<void> {
    if (run.slackChannels.length === 0) return;
    // Taken before any await, so a forget() right after this call cannot lose it.
    const started = this.starting.get(run.runId);
    this.starting.delete(run.runId);
    await this.guarded(run, async () => {
      const known = started ? await started : (record?.slackThreads ?? []);
      const message = finishedMessage(run, record, result, this.deps.publicUrl);
      const threads = await this.publish(run, known, message);
      if (output.trim() === "") return;
      await Promise.all(
        threads.map((thread) =>
          this.call(run, thread.requested ?? thread.channel, "files.uploadV2", () =>
            this.deps.client.filesUploadV2({
              channel_id: thread.channel,
              thread_ts: thread.ts,
              content: output,
              filename: `k6-output-${run.runId}.txt`,
              title: `k6 output of ${run.namespace}/${run.name}`,
            }),
          ),
        ),
      );
    });
  }

  forget(runId: string): void {
    this.starting.delete(runId);
  }

  /** The worker calls these with `void`: nothing may escape as a rejection. */
  private async guarded(run: RunJob, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.deps.logger.error(
        { runId: run.runId, error: error instanceof Error ? error.message : String(error) },
        "Slack notification failed; the verdict is unaffected",
      );
    }
  }

  /**
   * Edits the message of each channel that has one and posts to the others; stores the
   * threads when there are new ones. Returns the threads that exist afterwards.
   */
  private async publish(
    run: RunJob,
    known: SlackThread[],
    message: SlackMessage,
  ): Promise<SlackThread[]> {
    const { client } = this.deps;
    const results = await Promise.all(
      run.slackChannels.map(async (channel) => {
        const thread = known.find((t) => (t.requested ?? t.channel) === channel);
        if (thread) {
          await this.call(run, channel, "chat.update", () =>
            client.chat.update({ channel: thread.channel, ts: thread.ts, ...message }),
          );
          return { thread, posted: false };
        }
        const posted = await this.call(run, channel, "chat.postMessage", () =>
          client.chat.postMessage({ channel, ...message }),
        );
        if (!posted?.channel || !posted.ts) return { thread: undefined, posted: false };
        return {
          thread: { channel: posted.channel, ts: posted.ts, requested: channel },
          posted: true,
        };
      }),
    );
    const threads = results.flatMap((result) => (result.thread ? [result.thread] : []));
    if (results.some((result) => result.posted)) {
      await this.call(run, "-", "store thread references", () =>
        this.deps.store.setSlackThreads(run.runId, threads),
      );
    }
    return threads;
  }

  /** Runs one call, bounded by the Slack timeout; a failure is logged, never thrown. */
  private async call<T>(
    run: RunJob,
    channel: string,
    method: string,
    send: () => Promise<T>,
  ): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${this.deps.timeoutMs}ms`)),
        this.deps.timeoutMs,
      );
    });
    try {
      return await Promise.race([send(), timeout]);
    } catch (error) {
      this.deps.logger.warn(
        {
          runId: run.runId,
          channel,
          method,
          error: error instanceof Error ? error.message : String(error),
        },
        "Slack notification failed; the verdict is unaffected",
      );
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}
