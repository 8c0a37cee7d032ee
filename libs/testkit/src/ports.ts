import { createServer } from "node:net";

// Below Linux's ephemeral range (32768-60999): a port handed out here and bound a few
// seconds later by another process (flagger-sim's Services, k6-gate) cannot meanwhile be
// taken as the local port of some outgoing connection, which the OS picks from that range.
const LOW = 20_000;
const HIGH = 32_000;
const handedOut = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A port on 127.0.0.1 that nothing holds now and that this process has not handed out. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port in ${LOW}-${HIGH} after 200 tries`);
}
