import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { Logger } from "@k6-gate/shared";
import type { AppEnv } from "./deps";

const REQUEST_ID = /^[\w.-]{1,128}$/;

/** Polled by probes, Prometheus and the autoscaler: logged at debug unless they fail. */
const QUIET_PATHS = new Set(["/healthz", "/readyz", "/metrics", "/queue/depth"]);

/**
 * One log line per HTTP response: status, method, path, duration, request id (the
 * caller's `x-request-id` when it is a sane token, else a new one, echoed back) and what
 * the handler added with `c.set("log", ...)`. Never the body or the query (tokens travel
 * in `?token=`). Probes, scrapes and the autoscaler's polls log at debug.
 */
export function requestLog(logger: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const given = c.req.header("x-request-id");
    const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
    c.header("x-request-id", requestId);
    await next();
    const status = c.res.status;
    const line = {
      requestId,
      method: c.req.method,
      path: c.req.path,
      status,
      durationMs: Math.round(performance.now() - started),
      ...c.get("log"),
    };
    if (QUIET_PATHS.has(c.req.path) && status < 500) logger.debug(line, "http response");
    else if (status >= 500) logger.warn(line, "http response");
    else logger.info(line, "http response");
  };
}
