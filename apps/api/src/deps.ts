import type { RedisClient } from "@k6-gate/shared";
import type { Queue } from "bullmq";
import type { HttpBindings } from "@hono/node-server";
import type { Logger, RunDetailsStore, RunStore } from "@k6-gate/shared";
import type { ApiConfig } from "./config";
import type { RunWaiter } from "./run-waiter";
import type { WebhookCaller } from "./webhook-tokens";

/** Everything the API needs, built by main.ts (or a test) and handed to createApp. */
export interface AppDeps {
  config: ApiConfig;
  redis: RedisClient;
  store: RunStore;
  /** What each run was given and its k6 plan (the run page's "Inputs"), as workers record them. */
  details: RunDetailsStore;
  queue: Queue;
  waiter: RunWaiter;
  logger: Logger;
}

/** What a handler adds to its request's log line (the canary, the run it answered with). */
export interface RequestLogFields {
  namespace?: string;
  name?: string;
  runId?: string;
  decision?: string;
}

/**
 * Bindings: present when served by @hono/node-server; absent under `app.request()` in
 * tests. `webhookCaller`: set by the webhook auth for the token presented (a token bound to
 * namespaces, or `WEBHOOK_TOKEN`'s shared caller); unset when no token is configured. `log`:
 * what a handler adds to its request's log line.
 */
export type AppEnv = {
  Bindings: Partial<HttpBindings>;
  Variables: { webhookCaller?: WebhookCaller; log?: RequestLogFields };
};
