import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One Web API call as the stand-in received it, arguments decoded. */
export interface SlackCall {
  method: string;
  args: Record<string, string>;
  /** The bearer token the call carried. */
  token: string | undefined;
}

export interface SlackUpload {
  fileId: string;
  content: string;
}

/**
 * How the stand-in answers: like Slack; `{ok: false, error}` like a bad channel;
 * 429 like a rate limit; not at all, like a Slack that hangs.
 */
export type SlackBehaviour = "ok" | "platform_error" | "rate_limited" | "hang";

/** A message as the stand-in keeps it, for conversations.history. */
interface StoredMessage {
  ts: string;
  text: string;
  metadata: unknown;
}

/** Every scope the stand-in checks; `scopes` starts with all of them. */
export const ALL_SCOPES = [
  "chat:write",
  "files:write",
  "channels:read",
  "groups:read",
  "channels:history",
  "groups:history",
] as const;
export type SlackScope = (typeof ALL_SCOPES)[number];

/** The scope Slack asks for per method (private channels' `groups:` scopes are not modelled). */
const SCOPE_OF: Record<string, SlackScope> = {
  "conversations.list": "channels:read",
  "conversations.history": "channels:history",
};

export interface FakeSlack {
  /** Base URL for SLACK_API_URL. */
  apiUrl: string;
  calls: SlackCall[];
  uploads: SlackUpload[];
  behaviour: SlackBehaviour;
  /** The token's scopes: a method whose scope is missing answers `missing_scope`. */
  scopes: Set<SlackScope>;
  /**
   * Methods whose calls take effect (a message is posted) but are never answered, as seen
   * by a worker killed after Slack acted and before it read the answer.
   */
  holding: Set<string>;
  /** Requests received and neither answered nor given up by the client. */
  pending(): number;
  callsOf(method: string): SlackCall[];
  close(): Promise<void>;
}

/** Slack answers with channel ids; a channel name always maps to the same one. */
export function channelIdOf(channel: string): string {
  if (/^[CGD][A-Z0-9]{8,}$/.test(channel)) return channel;
  const name = channel.replace(/^#/, "");
  return `C${createHash("sha256").update(name).digest("hex").slice(0, 10).toUpperCase()}`;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Slack's `ts`: seconds now, and a sequence that keeps every message's distinct. */
const tsOf = (sequence: number) =>
  `${Math.floor(Date.now() / 1000)}.${String(sequence).padStart(6, "0")}`;

/** One page of `items` from `cursor` (an offset here; opaque to clients, as Slack's is). */
function pageOf<T>(items: T[], args: Record<string, string>) {
  const from = Number(args.cursor || "0");
  const limit = Number(args.limit || "100");
  const page = items.slice(from, from + limit);
  const more = from + limit < items.length;
  return {
    page,
    has_more: more,
    response_metadata: { next_cursor: more ? String(from + limit) : "" },
  };
}

/**
 * A local stand-in for Slack's Web API speaking what k6-gate uses: chat.postMessage (with
 * metadata), chat.update, conversations.list and conversations.history (with
 * include_all_metadata), and the three steps of files.uploadV2
 * (files.getUploadURLExternal, the upload URL, files.completeUploadExternal). It records
 * every call.
 */
export async function startFakeSlack(): Promise<FakeSlack> {
  const calls: SlackCall[] = [];
  const uploads: SlackUpload[] = [];
  let pending = 0;
  let sequence = 0;
  let base = "";
  const state: { behaviour: SlackBehaviour } = { behaviour: "ok" };
  const scopes = new Set<SlackScope>(ALL_SCOPES);
  const holding = new Set<string>();
  /** Posted messages by channel id, oldest first; channel names by id. */
  const messages = new Map<string, StoredMessage[]>();
  const names = new Map<string, string>();

  /** What Slack does for a call, and its answer's body. */
  const answer = (method: string, args: Record<string, string>): Record<string, unknown> => {
    const needed = SCOPE_OF[method];
    if (needed && !scopes.has(needed)) {
      return { ok: false, error: "missing_scope", needed, provided: [...scopes].join(",") };
    }
    switch (method) {
      case "chat.postMessage": {
        sequence += 1;
        const requested = args.channel ?? "";
        const channel = channelIdOf(requested);
        if (channel !== requested) names.set(channel, requested.replace(/^#/, ""));
        const message = {
          ts: tsOf(sequence),
          text: args.text ?? "",
          metadata: args.metadata ? (JSON.parse(args.metadata) as unknown) : undefined,
        };
        messages.set(channel, [...(messages.get(channel) ?? []), message]);
        return { ok: true, channel, ts: message.ts };
      }
      case "chat.update":
        return { ok: true, channel: args.channel, ts: args.ts };
      case "conversations.list": {
        const channels = [...names].map(([id, name]) => ({ id, name, is_channel: true }));
        const { page, response_metadata } = pageOf(channels, args);
        return { ok: true, channels: page, response_metadata };
      }
      case "conversations.history": {
        const oldest = Number(args.oldest || "0");
        const found = (messages.get(args.channel ?? "") ?? [])
          .filter((m) => Number(m.ts) > oldest)
          .reverse()
          .map((m) => ({
            type: "message",
            ts: m.ts,
            text: m.text,
            ...(args.include_all_metadata === "true" && m.metadata ? { metadata: m.metadata } : {}),
          }));
        const { page, ...more } = pageOf(found, args);
        return { ok: true, messages: page, ...more };
      }
      case "files.getUploadURLExternal": {
        sequence += 1;
        const fileId = `F${String(sequence).padStart(8, "0")}`;
        return { ok: true, upload_url: `${base}/upload/${fileId}`, file_id: fileId };
      }
      case "files.completeUploadExternal":
        return { ok: true, files: JSON.parse(args.files ?? "[]") as unknown };
      default:
        return { ok: false, error: "unknown_method" };
    }
  };

  const json = (res: ServerResponse, status: number, body: unknown, headers = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    // Open until answered, or until the client gives up and closes the connection.
    pending += 1;
    res.once("close", () => (pending -= 1));
    void (async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const body = await readBody(req);
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      if (url.pathname.startsWith("/upload/")) {
        // files.uploadV2 posts the content as multipart form field `body`.
        const form = await new Response(body, {
          headers: { "content-type": req.headers["content-type"] ?? "" },
        }).formData();
        const file = form.get("body");
        const content = typeof file === "string" ? file : ((await file?.text()) ?? "");
        uploads.push({ fileId: url.pathname.slice("/upload/".length), content });
        res.writeHead(200, { "content-type": "text/plain" }).end(`OK - ${content.length}`);
        return;
      }
      const method = url.pathname.replace(/^\/api\//, "");
      const args = Object.fromEntries(new URLSearchParams(body.toString("utf8")));
      calls.push({ method, args, token });
      if (state.behaviour === "hang") return;
      if (state.behaviour === "rate_limited") {
        return json(res, 429, { ok: false, error: "ratelimited" }, { "retry-after": "30" });
      }
      if (state.behaviour === "platform_error") {
        return json(res, 200, { ok: false, error: "channel_not_found" });
      }
      const reply = answer(method, args);
      if (holding.has(method)) return;
      return json(res, 200, reply);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    apiUrl: `${base}/api/`,
    calls,
    uploads,
    get behaviour() {
      return state.behaviour;
    },
    set behaviour(value: SlackBehaviour) {
      state.behaviour = value;
    },
    scopes,
    holding,
    pending: () => pending,
    callsOf: (method) => calls.filter((call) => call.method === method),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
