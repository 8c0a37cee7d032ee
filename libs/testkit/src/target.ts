import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Target {
  url: string;
  port: number;
  hits: Map<string, number>;
  close(): Promise<void>;
}

/** A real HTTP target on 127.0.0.1: /ok answers 200, /fail 500, /slow?ms=N after N ms. */
export async function startTarget(): Promise<Target> {
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    if (url.pathname === "/fail") return void res.writeHead(500).end("fail");
    if (url.pathname === "/slow") {
      const ms = Number(url.searchParams.get("ms") ?? 100);
      return void setTimeout(() => res.writeHead(200).end("slow"), ms);
    }
    res.writeHead(200, { "content-type": "text/plain" }).end("ok");
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
