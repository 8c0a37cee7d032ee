import { timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { ApiConfig } from "./config";
import type { AppEnv } from "./deps";
import { SHARED_TOKEN_CALLER, tokenDigest } from "./webhook-tokens";

/**
 * Flagger's webhook spec has no headers, so the token may come in the URL
 * (`?token=...`); a bearer header works too. 401 says nothing more.
 *
 * `WEBHOOK_TOKEN` admits any namespace; a token from `WEBHOOK_TOKENS_FILE` admits its own
 * namespaces only: the caller it names is set as `webhookCaller` for the route to check
 * against the payload's namespace (and to record who called). With neither configured,
 * every call gets through, and no caller is set.
 */
export function webhookToken(
  config: Pick<ApiConfig, "WEBHOOK_TOKEN" | "WEBHOOK_TOKENS_FILE">,
): MiddlewareHandler<AppEnv> {
  const shared = config.WEBHOOK_TOKEN ? tokenDigest(config.WEBHOOK_TOKEN) : undefined;
  const bound = config.WEBHOOK_TOKENS_FILE ?? [];
  if (!shared && bound.length === 0) return (_c, next) => next();
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    // The auth scheme is case-insensitive (RFC 9110 §11.1).
    const bearer = /^bearer /i.test(header);
    // Digests first, so each comparison takes the same time whatever the lengths; every
    // token is compared, so the time does not tell which one matched either.
    const given = tokenDigest(bearer ? header.slice(7) : (c.req.query("token") ?? ""));
    const matches = bound.filter((credential) => timingSafeEqual(given, credential.digest));
    const sharedMatches = shared !== undefined && timingSafeEqual(given, shared);
    const caller = matches[0] ?? (sharedMatches ? SHARED_TOKEN_CALLER : undefined);
    if (!caller) return c.text("unauthorized", 401);
    c.set("webhookCaller", caller);
    return next();
  };
}
