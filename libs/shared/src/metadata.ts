import { z } from "zod";
import { closest } from "./closest";
import { parseDuration } from "./duration";
import { k6SettingProblem } from "./k6-settings";
import {
  DEFAULT_BASELINE_RUNS,
  MAX_REGRESSION_ENTRIES,
  regressionEntryProblem,
} from "./regression-limits";

/**
 * A Canary webhook's metadata (a map of strings: flagger-k6-webhook's keys and k6-gate's
 * own), as one table: each key, the field it fills, how its string is read (every problem
 * reported with its key) and what a run's spec keeps of it. A new key is one entry here
 * plus its docs.
 */

export const LIMITS = {
  scriptBytes: 256 * 1024,
  metadataValueBytes: 64 * 1024,
  envVars: 100,
  slackChannels: 20,
} as const;

export interface SecretRef {
  namespace?: string | undefined;
  secret: string;
  key: string;
}

/** Reads one key's value (undefined: not given); `problem` says what is wrong with it. */
type Reader<T> = (
  value: string | undefined,
  problem: (message: string) => void,
  raw: Record<string, string>,
) => T;

const given = (value: string | undefined): value is string => value !== undefined && value !== "";
const shown = (value: string) => JSON.stringify(value.slice(0, 40));

// strconv.ParseBool, as flagger-k6-webhook reads its flags.
const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

const flag =
  (fallback: boolean): Reader<boolean> =>
  (value, problem) => {
    if (!given(value)) return fallback;
    if (TRUE.has(value) || FALSE.has(value)) return TRUE.has(value);
    problem(`must be "true" or "false", got ${shown(value)}`);
    return fallback;
  };

const duration: Reader<number | undefined> = (value, problem) => {
  if (!given(value)) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) problem(`must be a duration like 30s, 2m or 1h, got ${shown(value)}`);
  return ms;
};

const wholeNumber =
  (fallback: number): Reader<number> =>
  (value, problem) => {
    const text = value?.trim();
    if (!given(text)) return fallback;
    if (/^\d{1,9}$/.test(text)) return Number(text);
    problem(`must be a whole number, 0 or more, got ${shown(text)}`);
    return fallback;
  };

const jsonObject: Reader<Record<string, unknown>> = (value, problem) => {
  if (value === undefined || value.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    problem("must be a JSON object (invalid JSON)");
    return {};
  }
  if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
    return parsed as Record<string, unknown>;
  problem("must be a JSON object");
  return {};
};

/** ` (metadata has "scirpt": did you mean script?)` when a key k6-gate does not know meant `key`. */
function misspelled(raw: Record<string, string>, key: string): string {
  const typo = Object.keys(raw).find(
    (other) => !Object.hasOwn(METADATA, other) && closest(other, [key]),
  );
  return typo === undefined
    ? ""
    : ` (metadata has ${JSON.stringify(typo.slice(0, 60))}: did you mean ${key}?)`;
}

const script: Reader<string> = (value, problem, raw) => {
  if (!value?.trim()) problem(`is required: the k6 script to run${misspelled(raw, "script")}`);
  return value ?? "";
};

const slackChannels: Reader<string[]> = (value, problem) => {
  const channels = (value ?? "")
    .split(",")
    .map((channel) => channel.trim())
    .filter(Boolean);
  if (channels.length > LIMITS.slackChannels) problem(`at most ${LIMITS.slackChannels} channels`);
  return channels;
};

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Variables k6-gate sets itself (k6/environment.ts); a script may not override them. */
const RESERVED_ENV = new Set([
  "PATH",
  "HOME",
  "TMPDIR",
  "K6_CLOUD_TOKEN",
  "K6_NO_USAGE_REPORT",
  "K6_NO_COLOR",
  "K6_AUTO_EXTENSION_RESOLUTION",
]);
/**
 * The dynamic loader's LD_* would load code into setpriv and k6; k6's own `K6_*` settings
 * go through their allow-list (k6-settings.ts).
 */
const LOADER_ENV = /^LD_/;
const SECRET_REF =
  /^(?:([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/)?([a-z0-9]([-a-z0-9.]*[a-z0-9])?)\/([-._a-zA-Z0-9]+)$/;

/** Why `name` cannot be a variable of k6's environment; undefined when it can. */
function envNameProblem(name: string): string | undefined {
  // `__proto__` would vanish on the way to the worker (object keys); refuse it visibly.
  if (!ENV_NAME.test(name) || name === "__proto__")
    return `${JSON.stringify(name.slice(0, 40))} is not a valid variable name`;
  if (RESERVED_ENV.has(name)) return `${name} is set by k6-gate and cannot be overridden`;
  if (LOADER_ENV.test(name)) return `${name} is not allowed: it would weaken k6's isolation`;
  return k6SettingProblem(name);
}

/** A JSON object of at most `max` entries, each kept as `read` makes it (undefined: refused). */
function entriesOf<T>(
  max: number,
  what: string,
  read: (name: string, entry: unknown, problem: (message: string) => void) => T | undefined,
): Reader<Record<string, T>> {
  return (value, problem, raw) => {
    const entries = Object.entries(jsonObject(value, problem, raw));
    if (entries.length > max) problem(`at most ${max} ${what}`);
    const result = Object.create(null) as Record<string, T>;
    for (const [name, entry] of entries.slice(0, max)) {
      const kept = read(name, entry, problem);
      if (kept !== undefined) result[name] = kept;
    }
    return result;
  };
}

const envVars = entriesOf(LIMITS.envVars, "variables", (name, value, problem) => {
  const nameProblem = envNameProblem(name);
  if (nameProblem) problem(nameProblem);
  else if (typeof value !== "string")
    problem(`${name} must be a string, got ${value === null ? "null" : typeof value}`);
  else return value;
  return undefined;
});

const kubernetesSecrets = entriesOf<SecretRef>(
  LIMITS.envVars,
  "variables",
  (name, ref, problem) => {
    const match = typeof ref === "string" ? SECRET_REF.exec(ref) : null;
    const nameProblem = envNameProblem(name);
    if (nameProblem) problem(nameProblem);
    else if (!match) problem(`${name} must be "[namespace/]secret/key"`);
    else return { namespace: match[1], secret: match[3] as string, key: match[5] as string };
    return undefined;
  },
);

const maxRegression = entriesOf(MAX_REGRESSION_ENTRIES, "entries", (key, limit, problem) => {
  const entryProblem = regressionEntryProblem(key, limit);
  if (entryProblem) problem(entryProblem);
  else return (limit as string).trim();
  return undefined;
});

const MAX_BASELINE_RUNS = 50;

const baselineRuns: Reader<number> = (value, problem, raw) => {
  const runs = wholeNumber(DEFAULT_BASELINE_RUNS)(value, problem, raw);
  if (runs >= 1 && runs <= MAX_BASELINE_RUNS) return runs;
  problem(`must be between 1 and ${MAX_BASELINE_RUNS}, got ${runs}`);
  return DEFAULT_BASELINE_RUNS;
};

/** Most runner pods one check may ask k6-operator for. */
export const MAX_PARALLELISM = 20;

const parallelism: Reader<number> = (value, problem, raw) => {
  const pods = wholeNumber(1)(value, problem, raw);
  if (pods >= 1 && pods <= MAX_PARALLELISM) return pods;
  problem(`must be between 1 and ${MAX_PARALLELISM}, got ${pods}`);
  return 1;
};

const maxDuration: Reader<number | undefined> = (value, problem, raw) => {
  const ms = duration(value, problem, raw);
  if (ms === 0) problem("must be more than 0");
  return ms;
};

/**
 * What a run's spec (its job data, and so its run key) keeps of a key: its schema, and the
 * value kept (`keep`; by default the field's own). A value left out at its default keeps
 * the run key a check had before the key existed, so runs in flight keep deduplicating
 * across an upgrade.
 */
interface Kept<T> {
  schema: z.ZodType;
  keep?: (value: T) => unknown;
}

interface Entry<F extends string, T, S extends z.ZodType | undefined> {
  field: F;
  read: Reader<T>;
  spec: S extends z.ZodType ? Kept<T> & { schema: S } : undefined;
}

function key<F extends string, T>(field: F, read: Reader<T>): Entry<F, T, undefined>;
function key<F extends string, T, S extends z.ZodType>(
  field: F,
  read: Reader<T>,
  spec: Kept<T> & { schema: S },
): Entry<F, T, S>;
function key(field: string, read: Reader<unknown>, spec?: Kept<unknown>) {
  return { field, read, spec };
}

const keptIf =
  <T>(kept: (value: T) => boolean) =>
  (value: T) =>
    kept(value) ? value : undefined;

const secretRefSchema = z.object({
  namespace: z.string().optional(),
  secret: z.string(),
  key: z.string(),
});

/** Every metadata key k6-gate reads. */
export const METADATA = {
  script: key("script", script, { schema: z.string().min(1) }),
  upload_to_cloud: key("uploadToCloud", flag(false), { schema: z.boolean() }),
  wait_for_results: key("waitForResults", flag(true)),
  slack_channels: key("slackChannels", slackChannels, { schema: z.array(z.string()) }),
  notification_context: key("notificationContext", (value) => value || undefined, {
    schema: z.string().optional(),
  }),
  min_failure_delay: key("minFailureDelayMs", (value, problem, raw) => {
    return duration(value, problem, raw) ?? 120_000;
  }),
  env_vars: key("envVars", envVars, { schema: z.record(z.string(), z.string()) }),
  kubernetes_secrets: key("kubernetesSecrets", kubernetesSecrets, {
    schema: z.record(z.string(), secretRefSchema),
  }),
  max_duration: key("maxDurationMs", maxDuration, {
    schema: z.number().int().positive().optional(),
  }),
  wait_timeout: key("waitTimeoutMs", duration),
  /** Iterations that may end in an uncaught exception before a k6 pass is refused. */
  max_interrupted_iterations: key("maxInterruptedIterations", wholeNumber(0), {
    // Absent from jobs queued before the key existed.
    schema: z.number().int().nonnegative().optional(),
  }),
  /**
   * A new revision's run ends this canary's runs of other revisions (same phase); false:
   * this call supersedes nothing and its run is never superseded.
   */
  supersede: key("supersede", flag(true)),
  /** `metric:stat` -> allowed change against the baseline (regression-limits.ts). */
  max_regression: key("maxRegression", maxRegression, {
    schema: z.record(z.string(), z.string()).optional(),
    keep: keptIf((limits) => Object.keys(limits).length > 0),
  }),
  /** Passed runs the baseline is the median of. */
  baseline_runs: key("baselineRuns", baselineRuns, {
    schema: z.number().int().positive().optional(),
    keep: keptIf((runs) => runs !== DEFAULT_BASELINE_RUNS),
  }),
  /** A saturated load generator fails the run instead of warning. */
  fail_on_saturation: key("failOnSaturation", flag(false), {
    schema: z.boolean().optional(),
    keep: keptIf(Boolean),
  }),
  /**
   * Runner pods the test is split over (k6-operator's TestRun `parallelism`, execution
   * segments); more than 1 needs K6_RUNNER=k6-operator. Kept in the spec only above 1.
   */
  parallelism: key("parallelism", parallelism, {
    schema: z.number().int().positive().optional(),
    keep: keptIf((pods) => pods > 1),
  }),
  /** A test that expects every HTTP request to fail (a blocked route) may pass. */
  allow_failed_requests: key("allowFailedRequests", flag(false), {
    schema: z.boolean().optional(),
    keep: keptIf(Boolean),
  }),
};

type Table = typeof METADATA;
type MetadataKey = keyof Table;

export type Metadata = {
  [K in MetadataKey as Table[K]["field"]]: ReturnType<Table[K]["read"]>;
} & {
  /** Keys k6-gate does not know: the run goes on (other tools share the spec), but says so. */
  warnings: string[];
};

export const METADATA_KEYS = Object.keys(METADATA) as MetadataKey[];

/** The spec's part that comes from metadata: each kept field's schema. */
type KeptShape = {
  [K in MetadataKey as Table[K]["spec"] extends undefined ? never : Table[K]["field"]]: NonNullable<
    Table[K]["spec"]
  >["schema"];
};

const keptEntries = Object.values(METADATA).flatMap((entry) =>
  entry.spec ? [{ field: entry.field, spec: entry.spec as Kept<unknown> }] : [],
);

export const keptShape = Object.fromEntries(
  keptEntries.map(({ field, spec }) => [field, spec.schema]),
) as KeptShape;

/** What a run's spec keeps of parsed metadata. */
export function keptOf(metadata: Metadata): Record<string, unknown> {
  return Object.fromEntries(
    keptEntries.map(({ field, spec }) => {
      const value = (metadata as Record<string, unknown>)[field];
      return [field, spec.keep ? spec.keep(value) : value];
    }),
  );
}

type Issue = (key: string, message: string) => void;

/** "metadata key wait_timout is not one k6-gate knows (did you mean wait_timeout?)". */
function unknownKeyWarnings(raw: Record<string, string>): string[] {
  return Object.keys(raw)
    .filter((name) => !Object.hasOwn(METADATA, name))
    .slice(0, 10)
    .map((name) => {
      const meant = closest(name, METADATA_KEYS);
      return `metadata key ${JSON.stringify(name.slice(0, 60))} is not one k6-gate knows${meant ? ` (did you mean ${meant}?)` : "; ignored"}`;
    });
}

/** Typed metadata, or issues keyed by metadata key. */
export function parseMetadata(raw: Record<string, string>, issue: Issue): Metadata {
  for (const [name, value] of Object.entries(raw)) {
    const limit = name === "script" ? LIMITS.scriptBytes : LIMITS.metadataValueBytes;
    if (Buffer.byteLength(value) > limit) issue(name, `is larger than ${limit} bytes`);
  }
  const fields = Object.entries(METADATA).map(([name, entry]) => {
    const read = entry.read as Reader<unknown>;
    return [entry.field, read(raw[name], (message) => issue(name, message), raw)];
  });
  return { ...Object.fromEntries(fields), warnings: unknownKeyWarnings(raw) } as Metadata;
}
