import type { Context } from "hono";
import { ownerOf, type RunCaller } from "@k6-gate/shared";
import type { AppEnv } from "./deps";

/**
 * Who made this call, for the records of what it did (the runs it superseded): the name of
 * the token it presented, and the address of the connection. The address is the socket's
 * peer, never a header: `X-Forwarded-For` is whatever the caller wrote. Behind a proxy it
 * is the proxy's. Null under `app.request()` (no socket).
 */
export function callerOf(c: Context<AppEnv>): RunCaller {
  const address = c.env?.incoming?.socket.remoteAddress;
  return {
    tokenName: c.get("webhookCaller")?.name ?? null,
    // An IPv4 peer of a dual-stack socket, as people write it.
    address: address ? address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, "") : null,
  };
}

/**
 * Whose run a call creates, for fair sharing and caps (decision 42): the token's when it
 * is bound to namespaces, else the namespace's (`WEBHOOK_TOKEN` is everyone's alike).
 */
export function ownerOfCall(c: Context<AppEnv>, namespace: string): string {
  const caller = c.get("webhookCaller");
  return ownerOf(namespace, caller && !caller.shared ? caller.name : null);
}

/** "token team-a", "namespace team-a": an owner (`ownerOfCall`) as people read it. */
export function describeOwner(owner: string): string {
  const at = owner.indexOf(":");
  return at < 0 ? owner : `${owner.slice(0, at)} ${owner.slice(at + 1)}`;
}
