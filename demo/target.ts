import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * The demo's service under test: `/ok` is the healthy release, `/flaky` a broken one
 * (one request in five fails, and slowly).
 */
export function startDemoTarget(port: number): Promise<{ port: number; close: () => void }> {
  let count = 0;
  const server = createServer((req, res) => {
    if (req.url?.startsWith("/flaky")) {
      count++;
      if (count % 5 === 0) return void setTimeout(() => res.writeHead(500).end("boom"), 50);
    }
    res.writeHead(200, { "content-type": "text/plain" }).end("ok");
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () =>
      resolve({ port: (server.address() as AddressInfo).port, close: () => server.close() }),
    );
  });
}
