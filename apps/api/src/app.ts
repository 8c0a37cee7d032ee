import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { AppDeps, AppEnv } from "./deps";
import { webhookToken } from "./auth";
import { isRedisUnavailable } from "./redis-errors";
import { problem } from "./respond";
import { healthRoutes } from "./routes/health";
import { launchTest } from "./routes/launch-test";
import { runsApi } from "./routes/runs-api";

/** The whole HTTP surface; main.ts only builds deps, listens and handles signals. */
export function createApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();

  app.post(
    "/launch-test",
    webhookToken(deps.config.WEBHOOK_TOKEN),
    bodyLimit({
      maxSize: deps.config.MAX_BODY_BYTES,
      onError: (c) =>
        problem(c as Context<AppEnv>, 413, `body larger than ${deps.config.MAX_BODY_BYTES} bytes`),
    }),
    launchTest(deps),
  );
  app.route("/", healthRoutes(deps));
  app.route("/api", runsApi(deps));

  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    if (isRedisUnavailable(error)) {
      deps.logger.warn({ err: error, path: c.req.path }, "redis unavailable");
      return problem(c, 503, "k6-gate: Redis is unreachable; retry shortly", [], 5);
    }
    deps.logger.error({ err: error, path: c.req.path }, "unhandled error");
    return problem(c, 503, "k6-gate: internal error; retry shortly", [], 5);
  });
  return app;
}
