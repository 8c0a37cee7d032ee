import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { HonoAdapter } from "@bull-board/hono";
import { serveStatic } from "@hono/node-server/serve-static";
import type { Queue } from "bullmq";
import { Hono, type MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "../deps";

export const QUEUE_BOARD_PATH = "/admin/queues";

/**
 * bull-board's page loads its own scripts and styles (and Google Fonts, as it is built);
 * its config is a JSON data block, not a script. So scripts come from this origin only:
 * job data shown on the board (scripts, failure reasons) could never run as code.
 * Styles may be inline: the page's loading placeholder and the UI set them.
 */
const boardHeaders = secureHeaders({
  // HSTS is the TLS terminator's call, not the app's (the dashboard is often plain HTTP).
  strictTransportSecurity: false,
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'", "'unsafe-inline'", "https://fonts.googleapis.com"],
    fontSrc: ["'self'", "https://fonts.gstatic.com"],
    imgSrc: ["'self'", "data:"],
    connectSrc: ["'self'"],
    // The page sets <base href="/admin/queues/">.
    baseUri: ["'self'"],
    formAction: ["'none'"],
    frameAncestors: ["'none'"],
  },
});

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

/**
 * bull-board for the run queue at /admin/queues. Retrying, removing or pausing jobs
 * needs someone accountable: without dashboard auth the board is read-only, in
 * bull-board's UI and here, where any write is refused before it reaches bull-board.
 */
export function queueBoard(queue: Queue, { writable }: { writable: boolean }) {
  const adapter = new HonoAdapter(serveStatic).setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: [new BullMQAdapter(queue, { readOnlyMode: !writable, allowRetries: writable })],
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: "k6-gate queue" } },
  });
  const board = new Hono<AppEnv>();
  board.use("*", boardHeaders);
  if (!writable) {
    board.use("*", async (c, next) => {
      if (c.req.method === "GET" || c.req.method === "HEAD") return next();
      return c.text("the queue board is read-only: set DASHBOARD_USER and DASHBOARD_PASSWORD", 405);
    });
  }
  board.use("*", jsonWritesOnly);
  return board.route("/", adapter.registerPlugin());
}
