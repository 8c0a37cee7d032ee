import type { MiddlewareHandler } from "hono";
import { basicAuth } from "hono/basic-auth";
import type { ApiConfig } from "../config";

/** Everything a person reads: pages, their JSON and the queue board. Not the webhook or /metrics. */
export const DASHBOARD_PATHS = [
  "/",
  "/canaries/*",
  "/runs/*",
  "/api/*",
  "/admin/queues",
  "/admin/queues/*",
] as const;

/** Basic auth when DASHBOARD_USER/DASHBOARD_PASSWORD are set; undefined means open. */
export function dashboardAuth(
  config: Pick<ApiConfig, "DASHBOARD_USER" | "DASHBOARD_PASSWORD">,
): MiddlewareHandler | undefined {
  if (!config.DASHBOARD_USER || !config.DASHBOARD_PASSWORD) return undefined;
  return basicAuth({
    username: config.DASHBOARD_USER,
    password: config.DASHBOARD_PASSWORD,
    realm: "k6-gate",
  });
}
