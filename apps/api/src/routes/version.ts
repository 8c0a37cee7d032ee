import { Hono } from "hono";
import { buildInfo } from "@k6-gate/shared";
import type { AppEnv } from "../deps";

/** `GET /version`: {version, k6Version, commit}, open like /healthz (nothing secret in it). */
export function versionRoutes() {
  const info = buildInfo();
  return new Hono<AppEnv>().get("/version", (c) => c.json(info));
}
