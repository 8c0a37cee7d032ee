import { z } from "zod";
import { parseDuration } from "./duration";
import { foldFormerRedisVariables } from "./former-redis-env";
import { applyPeerAliases, type PeerAlias } from "./peer-env";
import { removedVariableNotices } from "./removed-env";
import {
  DEFAULT_REDIS_URL,
  redisTargetOf,
  type RedisSettings,
  type RedisTarget,
} from "./redis-target";

function toMs(text: string, ctx: z.RefinementCtx): number {
  const ms = parseDuration(text);
  if (ms !== undefined) return ms;
  ctx.addIssue({ code: "custom", message: `"${text}" is not a duration like 30s, 5m or 1h` });
  return z.NEVER;
}

/** A duration env var ("30s", "10m") parsed to milliseconds. */
export const durationMs = (fallback: string) => z.string().default(fallback).transform(toMs);

const WHOLE_ABOVE_0 = "must be a whole number above 0";
export const positiveInt = (fallback: number) =>
  z.coerce
    .number({ error: WHOLE_ABOVE_0 })
    .int(WHOLE_ABOVE_0)
    .positive(WHOLE_ABOVE_0)
    .default(fallback);

/** A quota (decision 44): a whole number, 0 for none. */
export const quota = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

/** Empty strings count as unset, so `FOO=` in a compose file means "default". */
export const optionalText = z
  .string()
  .optional()
  .transform((text) => (text?.trim() ? text.trim() : undefined));

/** A duration env var with no default: undefined when unset or empty. */
export const optionalDuration = optionalText.transform((text, ctx) =>
  text === undefined ? undefined : toMs(text, ctx),
);

/** A regex env var the whole value must match (namespace filters), compiled once, here. */
export const wholeMatchPattern = optionalText.transform((pattern, ctx) => {
  if (pattern === undefined) return undefined;
  try {
    return new RegExp(`^(?:${pattern})$`);
  } catch (error) {
    // "Invalid regular expression: /^(?:test|()$/: Unterminated group": the last part.
    const why = error instanceof Error ? error.message.split(": ").pop() : undefined;
    ctx.addIssue({
      code: "custom",
      message: `must be a valid regular expression${why ? ` (${why})` : ""}`,
    });
    return z.NEVER;
  }
});

/** "true" or "false" (unset or empty: `fallback`); anything else is an error, not a guess. */
export const flag = (fallback: boolean) =>
  optionalText.transform((text, ctx) => {
    if (text === undefined) return fallback;
    if (text === "true" || text === "false") return text === "true";
    ctx.addIssue({ code: "custom", message: `"${text}" is not true or false` });
    return z.NEVER;
  });

/** Settings both processes read. */
export const commonConfigShape = {
  /**
   * The Redis server (`rediss://` for TLS, `?ca=<PEM file>` for a private CA); with
   * REDIS_SENTINELS, only its user, password, database, scheme, `ca` and
   * `allow_unauthenticated` are used; with `?cluster=true`, it is the seed node of a Redis
   * Cluster; `?allow_unauthenticated=true` starts even on a Redis that runs commands without
   * a password (redis-target.ts, redis-preflight.ts).
   */
  REDIS_URL: z.string().url().default(DEFAULT_REDIS_URL),
  /**
   * Redis's password when REDIS_URL carries none (Kubernetes: from the Secret, while the
   * URL stays in the ConfigMap). Any characters.
   */
  REDIS_PASSWORD: optionalText,
  /**
   * `[user:password@]host:port,host:port[/name]`: find the primary set `name` (`mymaster`
   * when left out) through these Redis Sentinels, with their own user and password when
   * they have one (redis-target.ts).
   */
  REDIS_SENTINELS: optionalText,
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_{}-]+$/, "letters, digits, _, - and a {hash tag} only")
    .default("k6gate"),
  /** pino's levels; logrus's `warning` and `panic` (flagger-k6-webhook's) are read as warn, fatal. */
  LOG_LEVEL: z.preprocess(
    (level) => (level === "warning" ? "warn" : level === "panic" ? "fatal" : level),
    z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  ),
  PUBLIC_URL: optionalText,
  MAX_RUN_DURATION: durationMs("30m"),
  HISTORY_MAX_RUNS_PER_CANARY: positiveInt(200),
  HISTORY_MAX_AGE: durationMs("30d"),
  /**
   * Bytes of k6 output one owner (a bound token, else a namespace) keeps across its
   * canaries; an output beyond it is cut to its tail (decision 44). 0: no bound.
   */
  MAX_OUTPUT_BYTES_PER_OWNER: quota(32 * 1024 * 1024),
  /**
   * How fast a crash is recovered from: a dead worker's job lock expires within this (it is
   * renewed every half of it), and the sweeps that find such jobs and runs without a live
   * job (BullMQ's stalled check, the reconciler) run every quarter of it, so a dead worker's
   * run is taken up within 1.25 x this. Set the same on the API and every worker.
   */
  LOCK_DURATION: durationMs("20s"),
};

/**
 * Every crash-recovery sweep runs this often: a quarter of LOCK_DURATION (5s by default),
 * often enough that recovery is bounded by the lock, rare enough to cost Redis nothing.
 */
export const sweepIntervalOf = (config: { LOCK_DURATION: number }): number =>
  Math.max(100, Math.round(config.LOCK_DURATION / 4));

/** Adds `redis`, where every connection goes (redis-target.ts); a bad setting is named. */
export function withRedisTarget<C extends RedisSettings>(
  config: C,
  ctx: z.RefinementCtx,
): C & { redis: RedisTarget } {
  return { ...config, redis: redisTargetOf(config, ctx) };
}

/** Settings a process cannot start with: `problems` are "VARIABLE: what is wrong" lines. */
export class ConfigError extends Error {
  readonly variables: string[];

  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join("; ")}`);
    this.name = this.constructor.name;
    this.variables = [...new Set(problems.map((problem) => problem.split(":")[0] ?? ""))];
  }
}

/** Parse once at start; a bad value stops the process with every problem named. */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv,
  aliases: PeerAlias[] = [],
): z.output<S> & { envNotices: string[] } {
  // Names read as others (the peer's, k6-gate's former ones), then names read no more.
  const aliased = applyPeerAliases(env, aliases);
  const folded = foldFormerRedisVariables(aliased.env);
  const notices = [...aliased.notices, ...folded.notices, ...removedVariableNotices(env)];
  const result = schema.safeParse(folded.env);
  if (result.success)
    return Object.assign(result.data as object, { envNotices: notices }) as z.output<S> & {
      envNotices: string[];
    };
  throw new ConfigError(
    result.error.issues.map(
      (issue) => `${issue.path.join(".") || "environment"}: ${issue.message}`,
    ),
  );
}
