import { Agent, request } from "node:http";
import { payloadOf, type CanaryCall } from "@k6-gate/testkit/webhook";

/**
 * A Node fetch (undici) pool caps connections per origin, which would queue the 1,000
 * long-polls in the client instead of holding them open on the API: plain node:http with
 * an unbounded agent opens one socket per call, as 1,000 Flagger retries would.
 */
export const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });

export interface Timed {
  status: number;
  text: string;
  /** Send to last byte of the body, from performance.now(). */
  ms: number;
  sentAt: number;
  doneAt: number;
}

export function httpCall(
  url: string,
  { method = "GET", body }: { method?: string; body?: string } = {},
): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const sentAt = performance.now();
    const headers: Record<string, string | number> = body
      ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) }
      : {};
    const req = request(url, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const doneAt = performance.now();
        resolve({
          status: res.statusCode ?? 0,
          text: Buffer.concat(chunks).toString(),
          ms: doneAt - sentAt,
          sentAt,
          doneAt,
        });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** POST /launch-test as Flagger does: JSON body, no Accept header (text verdicts). */
export function launchTest(apiUrl: string, call: CanaryCall): Promise<Timed> {
  return httpCall(`${apiUrl}/launch-test`, {
    method: "POST",
    body: JSON.stringify(payloadOf(call)),
  });
}
