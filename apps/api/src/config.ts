import { z } from "zod";
import {
  commonConfigShape,
  durationMs,
  optionalText,
  parseConfig,
  positiveInt,
} from "@k6-gate/shared";

export const apiConfigSchema = z.object({
  ...commonConfigShape,
  PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  HOST: z.string().default("0.0.0.0"),
  /** Wait for a verdict this long when the call has no `wait_timeout`: below Flagger's 10s default timeout. */
  DEFAULT_WAIT_TIMEOUT: durationMs("8s"),
  /** Upper bound on any `wait_timeout`. */
  LONG_POLL_MAX: durationMs("10m"),
  /** Long-polls one API process holds at once; more get 429. */
  MAX_LONG_POLLS: positiveInt(5000),
  /** Runs waiting for a worker beyond which new checks get 429. */
  MAX_QUEUE_DEPTH: positiveInt(100),
  MAX_BODY_BYTES: positiveInt(512 * 1024),
  SHUTDOWN_GRACE: durationMs("10s"),
  WEBHOOK_TOKEN: optionalText,
  ALLOWED_NAMESPACES: optionalText.refine(
    (pattern) => {
      if (pattern === undefined) return true;
      try {
        new RegExp(pattern);
        return true;
      } catch {
        return false;
      }
    },
    { message: "must be a valid regular expression" },
  ),
  DASHBOARD_USER: optionalText,
  DASHBOARD_PASSWORD: optionalText,
});

export type ApiConfig = z.output<typeof apiConfigSchema>;

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  return parseConfig(apiConfigSchema, env);
}
