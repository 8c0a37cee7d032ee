import { Hono } from "hono";
import type { AppDeps, AppEnv } from "../deps";

export function healthRoutes({ redis }: AppDeps) {
  return new Hono<AppEnv>()
    .get("/healthz", (c) => c.text("ok"))
    .get("/readyz", async (c) => {
      const reachable = await redis.ping().then(
        () => true,
        () => false,
      );
      return reachable ? c.text("ready") : c.text("redis unreachable", 503);
    });
}
