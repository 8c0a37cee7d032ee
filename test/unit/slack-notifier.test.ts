import type { WebClient } from "@slack/web-api";
import { describe, expect, it, vi } from "vitest";
import { createLogger, type RunJob } from "@k6-gate/shared";
import { SlackNotifier } from "../../apps/worker/src/slack/slack-notifier";
import { passedResult, specOf } from "@k6-gate/testkit/run-fixtures";

const run: RunJob = {
  ...specOf({ name: "podinfo", checksum: "abc", slackChannels: ["deployments"] }),
  runId: "key-podinfo-abc-1",
};

/** A Slack client that answers every post at once; its calls are what the tests read. */
function fakeSlack() {
  let sequence = 0;
  const chat = {
    postMessage: vi.fn(async ({ channel }: { channel: string }) => ({
      ok: true,
      channel: `C-${channel}`,
      ts: `1700000000.00000${++sequence}`,
    })),
    update: vi.fn(async ({ channel, ts }: { channel: string; ts: string }) => ({
      ok: true,
      channel,
      ts,
    })),
  };
  return { chat, client: { chat, filesUploadV2: vi.fn() } as unknown as WebClient };
}

function notifier(client: WebClient) {
  const store = { setSlackThreads: async () => {} };
  const logger = createLogger("test", "silent");
  return new SlackNotifier({ client, store, logger, timeoutMs: 1000, publicUrl: undefined });
}

describe("SlackNotifier", () => {
  it("updates the message its start posted, even when the record does not have it yet", async () => {
    const { chat, client } = fakeSlack();
    const slack = notifier(client);
    void slack.runStarted(run, null);
    await slack.runFinished(run, null, passedResult, "");
    expect(chat.postMessage).toHaveBeenCalledTimes(1);
    expect(chat.update).toHaveBeenCalledTimes(1);
  });

  it("keeps nothing for a run once forgotten (handed back, never finished here)", async () => {
    const { chat, client } = fakeSlack();
    const slack = notifier(client);
    await slack.runStarted(run, null);
    slack.forget(run.runId);
    // Nothing in memory any more: only the record's threads (none here) are known.
    await slack.runFinished(run, null, passedResult, "");
    expect(chat.postMessage).toHaveBeenCalledTimes(2);
    expect(chat.update).not.toHaveBeenCalled();
  });

  it("lets runFinished keep what it took when forget follows the call at once", async () => {
    const { chat, client } = fakeSlack();
    const slack = notifier(client);
    void slack.runStarted(run, null);
    const finishing = slack.runFinished(run, null, passedResult, "");
    slack.forget(run.runId);
    await finishing;
    expect(chat.postMessage).toHaveBeenCalledTimes(1);
    expect(chat.update).toHaveBeenCalledTimes(1);
  });
});
