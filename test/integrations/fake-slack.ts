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

export interface FakeSlack {
  /** Base URL for SLACK_API_URL. */
  apiUrl: string;
  calls: SlackCall[];
  uploads: SlackUpload[];
  behaviour: SlackBehaviour;
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

/**
 * A local stand-in for Slack's Web API speaking what k6-gate uses: chat.postMessage,
 * chat.update and the three steps of files.uploadV2 (files.getUploadURLExternal, the
 * upload URL, files.completeUploadExternal). It records every call.
 */
export async function startFakeSlack(): Promise<FakeSlack> {
  const calls: SlackCall[] = [];
  const uploads: SlackUpload[] = [];
  let pending = 0;
  let sequence = 0;
  let base = "";
  const state: { behaviour: SlackBehaviour } = { behaviour: "ok" };

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
      switch (method) {
        case "chat.postMessage":
          sequence += 1;
          return json(res, 200, {
            ok: true,
            channel: channelIdOf(args.channel ?? ""),
            ts: `1700000000.${String(sequence).padStart(6, "0")}`,
          });
        case "chat.update":
          return json(res, 200, { ok: true, channel: args.channel, ts: args.ts });
        case "files.getUploadURLExternal": {
          sequence += 1;
          const fileId = `F${String(sequence).padStart(8, "0")}`;
          return json(res, 200, {
            ok: true,
            upload_url: `${base}/upload/${fileId}`,
            file_id: fileId,
          });
        }
        case "files.completeUploadExternal":
          return json(res, 200, { ok: true, files: JSON.parse(args.files ?? "[]") as unknown });
        default:
          return json(res, 200, { ok: false, error: "unknown_method" });
      }
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
    pending: () => pending,
    callsOf: (method) => calls.filter((call) => call.method === method),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
