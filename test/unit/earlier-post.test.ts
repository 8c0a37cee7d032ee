import type { WebClient } from "@slack/web-api";
import { describe, expect, it } from "vitest";
import { EarlierPostFinder, runMessageMetadata } from "../../apps/worker/src/slack/earlier-post";

interface Message {
  ts: string;
  metadata?: ReturnType<typeof runMessageMetadata>;
}

/** A client whose history is `pages` (newest first, as Slack pages it), in one channel. */
function clientWith(pages: Message[][], channels = [{ id: "C0DEPLOYS01", name: "deployments" }]) {
  const history = (args: { cursor?: string }) => {
    const index = Number(args.cursor ?? "0");
    const more = index + 1 < pages.length;
    return Promise.resolve({
      ok: true,
      messages: pages[index] ?? [],
      has_more: more,
      response_metadata: { next_cursor: more ? String(index + 1) : "" },
    });
  };
  const list = () => Promise.resolve({ ok: true, channels, response_metadata: {} });
  return { conversations: { history, list } } as unknown as WebClient;
}

const ours = (ts: string): Message => ({ ts, metadata: runMessageMetadata("run-1") });
const other = (ts: string): Message => ({ ts, metadata: runMessageMetadata("run-2") });

describe("EarlierPostFinder", () => {
  it("finds the run's oldest message across pages, by name or by id", async () => {
    const finder = new EarlierPostFinder(
      clientWith([
        [other("9.3"), ours("9.2")],
        [{ ts: "9.15" }, ours("9.1")],
      ]),
      1000,
    );
    expect(await finder.find("run-1", "#deployments", 0)).toEqual({
      channel: "C0DEPLOYS01",
      ts: "9.1",
      requested: "#deployments",
    });
    expect((await finder.find("run-1", "C0OTHER0001", 0))?.channel).toBe("C0OTHER0001");
  });

  it("answers none when the whole history since the run began has no message of it", async () => {
    const finder = new EarlierPostFinder(clientWith([[other("9.2")], [{ ts: "9.1" }]]), 1000);
    expect(await finder.find("run-1", "deployments", 0)).toBeUndefined();
  });

  it("cannot tell, and says so, for a channel it cannot see or a history too long to read", async () => {
    const hidden = new EarlierPostFinder(clientWith([[]], []), 1000);
    await expect(hidden.find("run-1", "deployments", 0)).rejects.toThrow(/no channel named/);
    const busy = new EarlierPostFinder(
      clientWith(Array.from({ length: 20 }, (_, i) => [other(`9.${i}`)])),
      1000,
    );
    await expect(busy.find("run-1", "deployments", 0)).rejects.toThrow(/more than .* messages/);
  });
});
