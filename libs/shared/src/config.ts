import { z } from "zod";
import { parseDuration } from "./duration";

/** A duration env var ("30s", "10m") parsed to milliseconds. */
export const durationMs = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: "custom", message: `"${text}" is not a duration like 30s, 5m or 1h` });
        return z.NEVER;
      }
      return ms;
    });

export const positiveInt = (fallback: number) =>
  z.coerce.number().int().positive().default(fallback);

/** Empty strings count as unset, so `FOO=` in a compose file means "default". */
export const optionalText = z
  .string()
  .optional()
  .transform((text) => (text?.trim() ? text.trim() : undefined));

/** A regex env var the whole value must match (namespace filters), compiled once, here. */
export const wholeMatchPattern = optionalText.transform((pattern, ctx) => {
  if (pattern === undefined) return undefined;
  try {
    return new RegExp(`^(?:${pattern})$`);
  } catch {
    ctx.addIssue({ code: "custom", message: "must be a valid regular expression" });
    return z.NEVER;
  }
});

/** Settings both processes read. */
export const commonConfigShape = {
  REDIS_URL: z.string().url().default("redis://127.0.0.1:6379"),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only")
    .default("k6gate"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  PUBLIC_URL: optionalText,
  MAX_RUN_DURATION: durationMs("30m"),
  HISTORY_MAX_RUNS_PER_CANARY: positiveInt(200),
  HISTORY_MAX_AGE: durationMs("30d"),
};

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

/** Parse once at start; a bad value stops the process with every problem named. */
export function parseConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
}
