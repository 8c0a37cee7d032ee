import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { HonoAdapter } from "@bull-board/hono";
import { serveStatic } from "@hono/node-server/serve-static";
import type { Queue } from "bullmq";
import { Hono, type MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { runPath } from "@k6-gate/shared";
import type { AppEnv } from "../deps";
import { BOARD_DATE_FORMATS } from "./time";

import { QUEUE_BOARD_PATH } from "./queue-board-path";

/**
 * bull-board's page loads its own scripts and styles; its config is a JSON data block,
 * not a script. So scripts come from this origin only: job data shown on the board
 * (scripts, failure reasons) could never run as code. Styles may be inline: the page's
 * loading placeholder and the UI set them. Nothing is fetched from another host (the
 * Google Fonts link bull-board ships is taken out of its page, see `localOnly`), so the
 * board works in a cluster with no way out.
 */
const boardHeaders = secureHeaders({
  // HSTS is the TLS terminator's call, not the app's (the dashboard is often plain HTTP).
  strictTransportSecurity: false,
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'", "'unsafe-inline'"],
    fontSrc: ["'self'"],
    imgSrc: ["'self'", "data:"],
    connectSrc: ["'self'"],
    // The page sets <base href="/admin/queues/">.
    baseUri: ["'self'"],
    formAction: ["'none'"],
    frameAncestors: ["'none'"],
  },
});

/** `<link>`s to other hosts in bull-board's page (its Google Fonts): the UI falls back to system fonts. */
const REMOTE_LINK = /<link\b[^>]*\bhref="https?:\/\/[^"]*"[^>]*>\s*/gi;

/** bull-board's HTML page without anything that would make the browser call another host. */
const localOnly: MiddlewareHandler = async (c, next) => {
  await next();
  if (!(c.res.headers.get("content-type") ?? "").startsWith("text/html")) return;
  const html = (await c.res.text()).replace(REMOTE_LINK, "");
  const headers = new Headers(c.res.headers);
  headers.delete("content-length");
  c.res = new Response(html, { status: c.res.status, headers });
};

/**
 * Writes must be JSON. A cross-site page can make a browser send a POST (a form, or
 * `fetch` in no-cors mode) with the dashboard's basic-auth credentials, but only with a
 * form content type or none: `application/json` from another origin needs a CORS
 * preflight, which this API never grants. So a POST must be `application/json`, and any
 * other write that carries a body too; PUT/PATCH/DELETE without a body (how the board's
 * own buttons call it) cannot be sent cross-site without that preflight either. 415 otherwise.
 */
const jsonWritesOnly: MiddlewareHandler = async (c, next) => {
  const method = c.req.method;
  if (method === "GET" || method === "HEAD") return next();
  const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  const hasBody =
    c.req.header("transfer-encoding") !== undefined ||
    Number(c.req.header("content-length") ?? 0) > 0 ||
    type !== "";
  if (type === "application/json" || (method !== "POST" && !hasBody)) return next();
  return c.text("queue board writes must be sent as application/json", 415);
};

/** The job's data as the board shows it: env_vars values hidden (names kept), like the run page. */
export function boardJobData(data: unknown): unknown {
  if (!data || typeof data !== "object" || Array.isArray(data)) return data;
  const job = data as Record<string, unknown>;
  const envVars = job.envVars;
  if (!envVars || typeof envVars !== "object" || Array.isArray(envVars)) return data;
  return {
    ...job,
    envVars: Object.fromEntries(Object.keys(envVars).map((name) => [name, "(hidden)"])),
  };
}

/**
 * bull-board for the run queue at /admin/queues: each job named `namespace/name@revision`
 * with a link to its run page, times in the browser's zone like the dashboard's, env
 * values hidden. Retrying, removing or pausing jobs needs someone accountable and an
 * explicit choice: `writable` only with dashboard auth and QUEUE_BOARD_WRITE=true;
 * otherwise the board is read-only, in bull-board's UI and here, where any write is
 * refused before it reaches bull-board.
 */
export function queueBoard(queue: Queue, { writable }: { writable: boolean }) {
  const adapter = new HonoAdapter(serveStatic).setBasePath(QUEUE_BOARD_PATH);
  const runs = new BullMQAdapter(queue, {
    readOnlyMode: !writable,
    allowRetries: writable,
    externalJobUrl: (job) => ({ displayText: "Run page", href: runPath(String(job.id)) }),
  });
  runs.setFormatter("data", boardJobData);
  createBullBoard({
    queues: [runs],
    serverAdapter: adapter,
    options: {
      uiConfig: {
        boardTitle: "k6-gate queue",
        miscLinks: [{ text: "Dashboard", url: "/" }],
        hideDocsLink: true,
        dateFormats: BOARD_DATE_FORMATS,
      },
    },
  });
  const board = new Hono<AppEnv>();
  board.use("*", boardHeaders);
  if (!writable) {
    board.use("*", async (c, next) => {
      if (c.req.method === "GET" || c.req.method === "HEAD") return next();
      return c.text(
        "the queue board is read-only: set QUEUE_BOARD_WRITE=true with DASHBOARD_USER and DASHBOARD_PASSWORD",
        405,
      );
    });
  }
  board.use("*", jsonWritesOnly);
  board.use("*", localOnly);
  return board.route("/", adapter.registerPlugin());
}
