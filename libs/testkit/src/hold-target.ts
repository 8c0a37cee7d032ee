import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface HoldTarget {
  port: number;
  /** Resolves once `count` requests to /hold have arrived (held or answered). */
  whenHeld(count: number, timeoutMs?: number): Promise<void>;
  /** Answers every held request (200), and every later one at once. */
  release(): void;
  close(): Promise<void>;
}

/**
 * An HTTP target on 127.0.0.1 whose `/hold` requests wait until the test calls
 * `release()`: a k6 script that GETs it runs until the test says so, with no fixed sleep.
 */
export async function startHoldTarget(): Promise<HoldTarget> {
  const held: ServerResponse[] = [];
  let arrived = 0;
  let released = false;
  const listeners = new Set<() => void>();
  const answer = (res: ServerResponse) => void res.writeHead(200).end("released");
  const server = createServer((req, res) => {
    if (req.url !== "/hold") return void res.writeHead(404).end();
    arrived += 1;
    if (released) answer(res);
    else held.push(res);
    for (const listener of listeners) listener();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    whenHeld: (count, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (arrived < count) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`${arrived} of ${count} requests reached /hold in ${timeoutMs}ms`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
    release() {
      released = true;
      held.splice(0).forEach(answer);
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A k6 script of one request to the hold target: it runs until the target is released. */
export const holdingScript = (port: number) => `
import http from 'k6/http';
export const options = { vus: 1, iterations: 1, thresholds: { http_req_failed: ['rate<0.01'] } };
export default function () { http.get('http://127.0.0.1:${port}/hold', { timeout: '10m' }); }
`;
