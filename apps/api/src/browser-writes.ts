import type { Context } from "hono";
import type { AppEnv } from "./deps";
import { problem } from "./respond";

/**
 * Whether a write (`POST /api/runs/:id/cancel`) may be acted on; a refusal when not.
 *
 * A browser sends the dashboard's basic-auth credentials with any request to this origin,
 * even one a page of another site makes it send. Such a page can send a form, or a no-cors
 * `fetch` with a form content type or none, but not `application/json` without a CORS
 * preflight, which this API never grants: so the body must be JSON (415 otherwise), as the
 * run page's button sends it. On top, a request the browser marks as cross-site
 * (`Sec-Fetch-Site`) or whose `Origin` is another host is refused (403). Clients that are
 * not browsers (curl, scripts) send neither header.
 */
export function browserWriteRefusal(
  c: Context<AppEnv>,
  publicUrl: string | undefined,
): Response | undefined {
  const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    return problem(c, 415, "send this as application/json (the run page's button does)");
  }
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    return problem(
      c,
      403,
      `refused: a ${site} request (only the dashboard's own pages may do this)`,
    );
  }
  const origin = c.req.header("origin");
  if (origin !== undefined && !sameHost(origin, [c.req.header("host"), publicUrl])) {
    return problem(c, 403, "refused: the request comes from another origin");
  }
  return undefined;
}

function sameHost(origin: string, allowed: (string | undefined)[]): boolean {
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false; // "null" (sandboxed frames, file:) or garbage
  }
  return allowed.some((candidate) => {
    if (!candidate) return false;
    try {
      return (candidate.includes("://") ? new URL(candidate).host : candidate) === host;
    } catch {
      return false;
    }
  });
}
