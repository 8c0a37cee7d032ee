import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./deps";

function sameSecret(given: string, expected: string): boolean {
  // Hash first so the comparison takes the same time whatever the lengths.
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Flagger's webhook spec has no headers, so the token may come in the URL
 * (`?token=...`); a bearer header works too. 401 says nothing more.
 */
export function webhookToken(token: string | undefined): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!token) return next();
    const header = c.req.header("authorization") ?? "";
    // The auth scheme is case-insensitive (RFC 9110 §11.1).
    const bearer = /^bearer /i.test(header);
    const given = bearer ? header.slice(7) : (c.req.query("token") ?? "");
    if (!sameSecret(given, token)) return c.text("unauthorized", 401);
    return next();
  };
}
