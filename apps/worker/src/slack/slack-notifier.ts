import type { WebClient } from "@slack/web-api";
import type { Logger, RunJob, RunRecord, RunResult, RunStore, SlackThread } from "@k6-gate/shared";
import { SLACK_TIMEOUT_MS, type WorkerConfig } from "../config";
import type { RunNotifier } from "../notifier";
import { EarlierPostFinder, LOOKUP_SCOPES, runMessageMetadata } from "./earlier-post";
import { finishedMessage, startedMessage, type SlackMessage } from "./messages";
import { withTimeout } from "./with-timeout";

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
  config: Pick<WorkerConfig, "SLACK_TOKEN" | "SLACK_API_URL" | "PUBLIC_URL">,
  store: SlackNotifierDeps["store"],
  logger: Logger,
): Promise<SlackNotifier | undefined> {
  if (!config.SLACK_TOKEN) return undefined;
  const { createSlackClient } = await import("./slack-client");
  return new SlackNotifier({
    client: createSlackClient({
      token: config.SLACK_TOKEN,
      apiUrl: config.SLACK_API_URL,
      timeoutMs: SLACK_TIMEOUT_MS,
      logger,
    }),
    store,
    logger,
    timeoutMs: SLACK_TIMEOUT_MS,
    publicUrl: config.PUBLIC_URL,
  });
}

/**
 * One message per channel when a run starts, updated in place with the verdict, and k6's
 * output uploaded into its thread. Thread references are stored with the run, so a run
 * taken up again after a crash edits the same messages; a channel with no stored thread
 * whose message an earlier attempt may have posted (killed before storing its `ts`) is
 * searched for it first (EarlierPostFinder). Every failure is logged with the run id and
 * swallowed: the verdict is recorded before any of this runs.
 */
export class SlackNotifier implements RunNotifier {
  /**
   * Threads this worker is posting, by run: a run quicker than Slack must update the
   * messages its start is still posting, not post a second set. Taken by runFinished;
   * dropped by forget for a run that does not finish here (handed back, stale, failed).
   */
  private readonly starting = new Map<string, Promise<SlackThread[]>>();

  private readonly earlier: EarlierPostFinder;

  constructor(private readonly deps: SlackNotifierDeps) {
    this.earlier = new EarlierPostFinder(deps.client, deps.timeoutMs);
  }

  async runStarted(run: RunJob, record: RunRecord | null): Promise<void> {
    if (run.slackChannels.length === 0) return;
    await this.guarded(run, async () => {
      const message = startedMessage(run, record, this.deps.publicUrl);
      // An earlier attempt may have posted without storing the thread.
      const since = record && record.attempt > 1 ? record.enqueuedAt : null;
      const posting = this.publish(run, record?.slackThreads ?? [], message, since);
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
      // Started elsewhere (or forgotten here): that start may have posted without storing.
      const since = started || !record ? null : record.enqueuedAt;
      const threads = await this.publish(run, known, message, since);
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
   * threads when there are new ones. With `since` (ms), a channel with no known thread is
   * first searched for a message of this run posted since then. Returns the threads that
   * exist afterwards.
   */
  private async publish(
    run: RunJob,
    known: SlackThread[],
    message: SlackMessage,
    since: number | null,
  ): Promise<SlackThread[]> {
    const { client } = this.deps;
    const results = await Promise.all(
      run.slackChannels.map(async (channel) => {
        const stored = known.find((t) => (t.requested ?? t.channel) === channel);
        const found = stored || since === null ? undefined : await this.find(run, channel, since);
        const thread = stored ?? found;
        if (thread) {
          await this.call(run, channel, "chat.update", () =>
            client.chat.update({ channel: thread.channel, ts: thread.ts, ...message }),
          );
          return { thread, learnt: found !== undefined };
        }
        const posted = await this.call(run, channel, "chat.postMessage", () =>
          client.chat.postMessage({ channel, ...message, metadata: runMessageMetadata(run.runId) }),
        );
        if (!posted?.channel || !posted.ts) return { thread: undefined, learnt: false };
        return {
          thread: { channel: posted.channel, ts: posted.ts, requested: channel },
          learnt: true,
        };
      }),
    );
    const threads = results.flatMap((result) => (result.thread ? [result.thread] : []));
    if (results.some((result) => result.learnt)) {
      await this.call(run, "-", "store thread references", () =>
        this.deps.store.setSlackThreads(run.runId, threads),
      );
    }
    return threads;
  }

  /**
   * The message an earlier attempt posted to `channel`, if any. When Slack cannot tell
   * (scopes not granted, no answer), a new message is posted: a possible duplicate, logged.
   */
  private async find(
    run: RunJob,
    channel: string,
    since: number,
  ): Promise<SlackThread | undefined> {
    try {
      return await this.earlier.find(run.runId, channel, since);
    } catch (error) {
      this.deps.logger.warn(
        {
          runId: run.runId,
          channel,
          scopes: LOOKUP_SCOPES,
          error: error instanceof Error ? error.message : String(error),
        },
        "Slack: could not look for the message an earlier attempt may have posted; posting a new one",
      );
      return undefined;
    }
  }

  /** Runs one call, bounded by the Slack timeout; a failure is logged, never thrown. */
  private async call<T>(
    run: RunJob,
    channel: string,
    method: string,
    send: () => Promise<T>,
  ): Promise<T | undefined> {
    try {
      return await withTimeout(send, this.deps.timeoutMs);
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
    }
  }
}
