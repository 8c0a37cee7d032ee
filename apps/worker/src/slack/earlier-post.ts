import type { WebClient } from "@slack/web-api";
import type { SlackThread } from "@k6-gate/shared";
import { withTimeout } from "./with-timeout";

/** The event type of the metadata each start message carries: it marks a run's message. */
export const RUN_MESSAGE_EVENT = "k6_gate_run";

/** chat.postMessage's `metadata` for a run's message: found again by conversations.history. */
export function runMessageMetadata(runId: string) {
  return { event_type: RUN_MESSAGE_EVENT, event_payload: { run_id: runId } };
}

/** What finding a message again needs beyond posting: channel names and their history. */
export const LOOKUP_SCOPES = "channels:read, groups:read, channels:history, groups:history";

/** A channel id as Slack writes them; anything else in `slack_channels` is a name. */
const CHANNEL_ID = /^[CGD][A-Z0-9]{8,}$/;
const PAGE_SIZE = 200;
/** Pages read at most per lookup: a channel busier than this since the run began is not searched. */
const MAX_PAGES = 10;
/** Slack's clock against the API's (which stamped `enqueuedAt`). */
const CLOCK_SKEW_S = 300;

/**
 * Finds the message an earlier attempt of a run posted, by the run id in its metadata, so
 * a worker killed between posting and storing the message's `ts` costs no second message.
 * Every call is bounded; a refusal (missing scope), a timeout or a history too long to read
 * is thrown: the caller cannot tell "none posted" and decides what to do.
 */
export class EarlierPostFinder {
  constructor(
    private readonly client: WebClient,
    private readonly timeoutMs: number,
  ) {}

  /** The run's oldest message in `requested` (a name or an id) since `sinceMs`, if any. */
  async find(runId: string, requested: string, sinceMs: number): Promise<SlackThread | undefined> {
    const channel = await this.channelIdOf(requested);
    const oldest = String(Math.max(0, Math.floor(sinceMs / 1000) - CLOCK_SKEW_S));
    let found: string | undefined;
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const answer = await withTimeout(
        () =>
          this.client.conversations.history({
            channel,
            oldest,
            include_all_metadata: true,
            limit: PAGE_SIZE,
            cursor,
          }),
        this.timeoutMs,
      );
      for (const message of answer.messages ?? []) {
        const payload: { run_id?: unknown } | undefined = message.metadata?.event_payload;
        const ours =
          message.metadata?.event_type === RUN_MESSAGE_EVENT && payload?.run_id === runId;
        if (ours && message.ts && (!found || Number(message.ts) < Number(found)))
          found = message.ts;
      }
      cursor = answer.response_metadata?.next_cursor;
      if (!answer.has_more || !cursor) {
        return found ? { channel, ts: found, requested } : undefined;
      }
    }
    if (found) return { channel, ts: found, requested };
    throw new Error(`more than ${MAX_PAGES * PAGE_SIZE} messages since the run began`);
  }

  /** conversations.history takes only ids: a name is looked up among the app's channels. */
  private async channelIdOf(requested: string): Promise<string> {
    if (CHANNEL_ID.test(requested)) return requested;
    const name = requested.replace(/^#/, "").toLowerCase();
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const answer = await withTimeout(
        () =>
          this.client.conversations.list({
            types: "public_channel,private_channel",
            exclude_archived: true,
            limit: 1000,
            cursor,
          }),
        this.timeoutMs,
      );
      const channel = answer.channels?.find((c) => c.name === name);
      if (channel?.id) return channel.id;
      cursor = answer.response_metadata?.next_cursor;
      if (!cursor) break;
    }
    throw new Error(`no channel named ${name} among those the app can see`);
  }
}
