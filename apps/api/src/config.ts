import { z } from "zod";
import {
  API_PEER_ALIASES,
  LIMITS,
  commonConfigShape,
  durationMs,
  flag,
  optionalText,
  parseConfig,
  positiveInt,
  quota,
  wholeMatchPattern,
  withRedisTarget,
} from "@k6-gate/shared";
import { loadWebhookTokens, tokenDigest } from "./webhook-tokens";

/**
 * Longest any call is held for its verdict (`wait_timeout` above it is lowered to it):
 * Flagger's own webhook `timeout` ends a wait first in any sane Canary, and a retry
 * reattaches to the same run, so this only bounds a call nobody waits for any more.
 */
export const LONG_POLL_MAX_MS = 10 * 60_000;

/**
 * Canaries (most recently run first) with per-canary series on /metrics: bounds the
 * series count; the dashboard and /api/runs show every canary anyway.
 */
export const METRICS_MAX_CANARIES = 200;

/**
 * Largest webhook body: twice the largest script, room for the script's JSON escaping
 * and every other metadata key, so each of the payload's own limits is reached (and named
 * in its 400) before this one.
 */
export const MAX_BODY_BYTES = 2 * LIMITS.scriptBytes;

const apiConfigShape = z.object({
  ...commonConfigShape,
  PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  HOST: z.string().default("0.0.0.0"),
  /** Long-polls one API process holds at once; more get 429. */
  MAX_LONG_POLLS: positiveInt(5000),
  /** Runs waiting for a worker beyond which new checks get 429. */
  MAX_QUEUE_DEPTH: positiveInt(100),
  /**
   * Quotas per owner (a bound token, else a namespace; decision 44), within HISTORY_MAX_AGE:
   * canaries with runs, and distinct scripts. A check over one gets 429 naming it. 0: none.
   */
  MAX_CANARIES_PER_OWNER: quota(30),
  MAX_SCRIPTS_PER_OWNER: quota(100),
  SHUTDOWN_GRACE: durationMs("10s"),
  WEBHOOK_TOKEN: optionalText,
  /** JSON file of tokens bound to namespaces (webhook-tokens.ts); read once, at start. */
  WEBHOOK_TOKENS_FILE: optionalText.transform((path, ctx) =>
    path === undefined ? undefined : loadWebhookTokens(path, ctx),
  ),
  /** Regex the whole canary namespace must match (403 otherwise); unset = any. */
  ALLOWED_NAMESPACES: wholeMatchPattern,
  DASHBOARD_USER: optionalText,
  DASHBOARD_PASSWORD: optionalText,
  /**
   * bull-board's write actions (retry, remove, pause, add jobs): only when asked for, and
   * only behind the dashboard login. Otherwise the board is read-only.
   */
  QUEUE_BOARD_WRITE: flag(false),
});

export const apiConfigSchema = apiConfigShape
  .refine((config) => !config.DASHBOARD_USER === !config.DASHBOARD_PASSWORD, {
    // Half of a login would leave the dashboard open while its owner thinks it is closed.
    message: "set both DASHBOARD_USER and DASHBOARD_PASSWORD, or neither",
    path: ["DASHBOARD_PASSWORD"],
  })
  .refine((config) => !config.QUEUE_BOARD_WRITE || config.DASHBOARD_USER !== undefined, {
    // Someone accountable: a write on the board is done by a signed-in user.
    message: "QUEUE_BOARD_WRITE=true needs DASHBOARD_USER and DASHBOARD_PASSWORD",
    path: ["QUEUE_BOARD_WRITE"],
  })
  .refine(
    ({ WEBHOOK_TOKEN, WEBHOOK_TOKENS_FILE }) =>
      !WEBHOOK_TOKEN ||
      !WEBHOOK_TOKENS_FILE?.some(({ digest }) => digest.equals(tokenDigest(WEBHOOK_TOKEN))),
    {
      // The shared token admits every namespace: the same value in the file binds nothing.
      message: "WEBHOOK_TOKEN is also a token in WEBHOOK_TOKENS_FILE; use different tokens",
      path: ["WEBHOOK_TOKENS_FILE"],
    },
  )
  .transform(withRedisTarget);

/** Notices about the environment (flagger-k6-webhook names read as ours), logged at start. */
export type ApiConfig = z.output<typeof apiConfigSchema> & { envNotices?: string[] };

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  return parseConfig(apiConfigSchema, env, API_PEER_ALIASES);
}
