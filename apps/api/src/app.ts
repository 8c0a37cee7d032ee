import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { MAX_BODY_BYTES } from "./config";
import type { AppDeps, AppEnv } from "./deps";
import { webhookToken } from "./auth";
import { isRedisUnavailable } from "./redis-errors";
import { requestLog } from "./request-log";
import { problem } from "./respond";
import { healthRoutes } from "./routes/health";
import { versionRoutes } from "./routes/version";
import { queueDepthRoutes } from "./routes/queue-depth";
import { launchTest } from "./routes/launch-test";
import { runsApi } from "./routes/runs-api";
import { DASHBOARD_PATHS, dashboardAuth } from "./dashboard/basic-auth";
import { errorPage, wantsHtml } from "./dashboard/error-page";
import { dashboardPages } from "./dashboard/pages";
import { QUEUE_BOARD_PATH } from "./dashboard/queue-board-path";
import { createApiMetrics } from "./metrics";

/**
 * bull-board (about 10 MB once loaded) is loaded on the board's first request, not at
 * start: most API replicas never serve it.
 */
function lazyQueueBoard(deps: AppDeps, options: { writable: boolean }) {
  let board: Promise<Hono<AppEnv>> | undefined;
  const load = async () => {
    const { queueBoard } = await import("./dashboard/queue-board");
    return new Hono<AppEnv>().route(QUEUE_BOARD_PATH, queueBoard(deps.queue, options));
  };
  return new Hono<AppEnv>().all("*", async (c) => {
    board ??= load().catch((error: unknown) => {
      board = undefined;
      throw error;
    });
    return (await board).fetch(c.req.raw, c.env);
  });
}

/** The whole HTTP surface; main.ts only builds deps, listens and handles signals. */
export function createApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  const metrics = createApiMetrics(deps);
  const auth = dashboardAuth(deps.config);

  app.use("*", requestLog(deps.logger));
  app.use("/launch-test", metrics.countWebhook);
  app.post(
    "/launch-test",
    webhookToken(deps.config),
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => {
        // The rest of the body is never read: close the connection rather than leave the
        // client to reuse a socket the server drops (its next request would hang up).
        c.header("Connection", "close");
        return problem(c as Context<AppEnv>, 413, `body larger than ${MAX_BODY_BYTES} bytes`);
      },
    }),
    launchTest(deps, metrics),
  );
  // Any other method: the address exists, for POST only (a 404 said it did not).
  app.all("/launch-test", (c) => {
    c.header("Allow", "POST");
    const message =
      "/launch-test takes POST: it is the webhook Flagger calls with a Canary's check";
    return wantsHtml(c) ? errorPage(c, 405, message) : problem(c, 405, message);
  });
  app.route("/", healthRoutes(deps));
  app.route("/", versionRoutes());
  app.route("/", queueDepthRoutes(deps));
  app.get("/metrics", async (c) => {
    const { text, contentType } = await metrics.scrape();
    return c.body(text, 200, { "content-type": contentType });
  });
  // Auth first: Hono runs handlers in the order they were added.
  if (auth) for (const path of DASHBOARD_PATHS) app.use(path, auth);
  app.route("/api", runsApi(deps, metrics));
  app.route(
    QUEUE_BOARD_PATH,
    lazyQueueBoard(deps, { writable: auth !== undefined && deps.config.QUEUE_BOARD_WRITE }),
  );
  app.route("/", dashboardPages(deps));
  // No dead ends: a person gets a page with a way back, a program its usual answer.
  app.notFound((c) =>
    wantsHtml(c) ? errorPage(c, 404, `Nothing is at ${c.req.path}.`) : problem(c, 404, "not found"),
  );

  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    if (isRedisUnavailable(error)) {
      deps.logger.warn({ err: error, path: c.req.path }, "redis unavailable");
      if (wantsHtml(c) && c.req.method === "GET") {
        c.header("Retry-After", "5");
        return errorPage(
          c,
          503,
          "k6-gate cannot reach Redis just now; this page will work again when it can.",
        );
      }
      return problem(c, 503, "k6-gate: Redis is unreachable; retry shortly", [], 5);
    }
    // Not an outage (those are answered above): a bug, logged with its stack and counted,
    // so it is not mistaken for one.
    deps.logger.error({ err: error, path: c.req.path }, "bug: unhandled error");
    metrics.countBug();
    const message = "k6-gate: internal error (a bug, logged by the API with its stack)";
    return wantsHtml(c) && c.req.method === "GET"
      ? errorPage(c, 500, `${message}. Please report it.`)
      : problem(c, 500, message);
  });
  return app;
}
