import { Hono } from "hono";
import type { AppDeps, AppEnv } from "../deps";

/** `/health` is flagger-k6-webhook's path: probes written for it keep working. */
export function healthRoutes({ redis }: AppDeps) {
  return new Hono<AppEnv>()
    .get("/healthz", (c) => c.text("ok"))
    .get("/health", (c) => c.text("ok"))
    .get("/readyz", async (c) => {
      const reachable = await redis.ping().then(
        () => true,
        () => false,
      );
      return reachable ? c.text("ready") : c.text("redis unreachable", 503);
    });
}
