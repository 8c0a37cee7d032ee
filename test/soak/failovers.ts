import { Redis } from "ioredis";
import { waitFor } from "@k6-gate/testkit/wait";
import type { Check, Fault } from "./model";
import type { SoakStack } from "./stack";

/** What failover windows need from the soak. */
export interface FailoverContext {
  stack: SoakStack;
  startedAt: number;
  faults: Fault[];
  inFlight: ReadonlySet<Check>;
  checkById(id: string): Check | undefined;
  /** Failovers under way: a check that starts meanwhile is hit too. */
  openFailovers: Set<Fault>;
  log(line: string): void;
}

/** How long the data servers may take to agree on one primary after a failover. */
const SETTLE_TIMEOUT_MS = 60_000;

export function hit(ctx: Pick<FailoverContext, "checkById">, fault: Fault, checkId: string): void {
  const check = ctx.checkById(checkId);
  if (!check || fault.hits.includes(checkId)) return;
  fault.hits.push(checkId);
  check.hits.push(fault.id);
}

/**
 * A failover's window opens: replication is asynchronous, so what a primary took and had
 * not passed on is lost with it. Every check in flight now is hit, and every check that
 * starts before the window closes.
 */
export function openWindow(ctx: FailoverContext, fault: Fault): void {
  for (const check of ctx.inFlight) hit(ctx, fault, check.id);
  ctx.openFailovers.add(fault);
}

/**
 * Closes the window once exactly one data server is a primary, the one the sentinels name:
 * until then a client may still write to a primary the sentinels have replaced (a second,
 * overlapping failover), and those writes are lost when it is made a replica.
 */
export async function closeWindowWhenSettled(ctx: FailoverContext, fault: Fault): Promise<void> {
  const opened = Date.now();
  try {
    await waitFor(
      "one primary, the one the sentinels name",
      async () => {
        const [named, roles] = await Promise.all([
          ctx.stack.sentinel.primaryPort(),
          ctx.stack.roles(),
        ]);
        const primaries = [...roles].filter(([, role]) => role === "master").map(([port]) => port);
        return primaries.length === 1 && primaries[0] === named;
      },
      { timeoutMs: SETTLE_TIMEOUT_MS, everyMs: 200 },
    );
    fault.notes.push(
      `one primary again ${Date.now() - opened} ms after the window's end was awaited`,
    );
  } catch {
    fault.notes.push(`still more than one primary ${SETTLE_TIMEOUT_MS / 1000} s on`);
  } finally {
    ctx.openFailovers.delete(fault);
  }
}

/**
 * Listens to every sentinel's `+switch-master`. A switch during an injected failover is
 * noted on it (a second switch there means the sentinels failed over twice); a switch at
 * any other time is a failover the sentinels started on their own, recorded as a fault of
 * its own with its window, so the checks it costs a run are allowed that run. Returns a
 * stop function.
 */
export function watchSwitches(ctx: FailoverContext): () => Promise<void> {
  let primary: number | undefined;
  const settling: Promise<void>[] = [];
  const clients = ctx.stack.sentinel.sentinelPorts.map((port) => {
    const client = new Redis({
      host: "127.0.0.1",
      port,
      password: ctx.stack.sentinel.sentinelPassword,
      retryStrategy: () => 500,
    });
    client.on("error", () => undefined);
    client.on("message", (_channel: string, message: string) => {
      // "<name> <old ip> <old port> <new ip> <new port>"
      const newPort = Number(message.split(" ")[4]);
      if (!newPort || newPort === primary) return;
      primary = newPort;
      const open = [...ctx.openFailovers].at(-1);
      if (open) {
        open.notes.push(`sentinels switched to :${newPort}`);
        return;
      }
      const fault: Fault = {
        id: ctx.faults.length + 1,
        kind: "spontaneous failover",
        at: Date.now() - ctx.startedAt,
        victim: `sentinels switched to :${newPort}`,
        hits: [],
        recoveryMs: null,
        notes: [],
      };
      ctx.faults.push(fault);
      openWindow(ctx, fault);
      ctx.log(`fault ${fault.id}: the sentinels failed over on their own to :${newPort}`);
      settling.push(closeWindowWhenSettled(ctx, fault));
    });
    void client.subscribe("+switch-master").catch(() => undefined);
    return client;
  });
  void ctx.stack.sentinel.primaryPort().then(
    (port) => (primary ??= port),
    () => undefined,
  );
  return async () => {
    for (const client of clients) client.disconnect();
    await Promise.all(settling);
  };
}
