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
 * Flagger's webhook payload (pkg/controller/webhook.go): `{name, namespace, phase,
 * checksum, metadata}`, metadata being a map of strings. Every metadata value is parsed
 * from its string form here, once, and every problem is reported with its key.
 */

export const LIMITS = {
  scriptBytes: 256 * 1024,
  metadataValueBytes: 64 * 1024,
  envVars: 100,
  slackChannels: 20,
} as const;

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
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export interface SecretRef {
  namespace?: string | undefined;
  secret: string;
  key: string;
}

export interface Metadata {
  script: string;
  uploadToCloud: boolean;
  waitForResults: boolean;
  slackChannels: string[];
  notificationContext: string | undefined;
  minFailureDelayMs: number;
  envVars: Record<string, string>;
  kubernetesSecrets: Record<string, SecretRef>;
  maxDurationMs: number | undefined;
  waitTimeoutMs: number | undefined;
  /** Iterations that may end in an uncaught exception before a k6 pass is refused. */
  maxInterruptedIterations: number;
  /**
   * A new revision's run ends this canary's runs of other revisions (same phase); false:
   * this call supersedes nothing and its run is never superseded.
   */
  supersede: boolean;
  /** `metric:stat` -> allowed change against the baseline (regression-limits.ts). */
  maxRegression: Record<string, string>;
  /** Passed runs the baseline is the median of. */
  baselineRuns: number;
  /** A saturated load generator fails the run instead of warning. */
  failOnSaturation: boolean;
  /** A test that expects every HTTP request to fail (a blocked route) may pass. */
  allowFailedRequests: boolean;
  /** Keys k6-gate does not know: the run goes on (other tools share the spec), but says so. */
  warnings: string[];
}

/** Every metadata key k6-gate reads (flagger-k6-webhook's and its own). */
export const METADATA_KEYS = [
  "script",
  "upload_to_cloud",
  "wait_for_results",
  "slack_channels",
  "notification_context",
  "min_failure_delay",
  "env_vars",
  "kubernetes_secrets",
  "max_duration",
  "wait_timeout",
  "max_interrupted_iterations",
  "supersede",
  "max_regression",
  "baseline_runs",
  "fail_on_saturation",
  "allow_failed_requests",
] as const;

/** "metadata key wait_timout is not one k6-gate knows (did you mean wait_timeout?)". */
function unknownKeyWarnings(raw: Record<string, string>): string[] {
  const known = new Set<string>(METADATA_KEYS);
  return Object.keys(raw)
    .filter((key) => !known.has(key))
    .slice(0, 10)
    .map((key) => {
      const shown = JSON.stringify(key.slice(0, 60));
      const meant = closest(key, METADATA_KEYS);
      return `metadata key ${shown} is not one k6-gate knows${meant ? ` (did you mean ${meant}?)` : "; ignored"}`;
    });
}

/** ` (metadata has "scirpt": did you mean script?)` when a key k6-gate does not know meant `key`. */
function misspelled(raw: Record<string, string>, key: string): string {
  const known = new Set<string>(METADATA_KEYS);
  const typo = Object.keys(raw).find((other) => !known.has(other) && closest(other, [key]));
  return typo === undefined
    ? ""
    : ` (metadata has ${JSON.stringify(typo.slice(0, 60))}: did you mean ${key}?)`;
}

type Issue = (key: string, message: string) => void;

// strconv.ParseBool, as flagger-k6-webhook reads its flags.
const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

function bool(raw: Record<string, string>, key: string, fallback: boolean, issue: Issue): boolean {
  const value = raw[key];
  if (value === undefined || value === "") return fallback;
  if (TRUE.has(value)) return true;
  if (FALSE.has(value)) return false;
  issue(key, `must be "true" or "false", got ${JSON.stringify(value.slice(0, 40))}`);
  return fallback;
}

function duration(raw: Record<string, string>, key: string, issue: Issue): number | undefined {
  const value = raw[key];
  if (value === undefined || value === "") return undefined;
  const ms = parseDuration(value);
  if (ms === undefined)
    issue(key, `must be a duration like 30s, 2m or 1h, got ${JSON.stringify(value.slice(0, 40))}`);
  return ms;
}

function wholeNumber(
  raw: Record<string, string>,
  key: string,
  fallback: number,
  issue: Issue,
): number {
  const value = raw[key]?.trim();
  if (value === undefined || value === "") return fallback;
  if (/^\d{1,9}$/.test(value)) return Number(value);
  issue(key, `must be a whole number, 0 or more, got ${JSON.stringify(value.slice(0, 40))}`);
  return fallback;
}

function jsonObject(
  raw: Record<string, string>,
  key: string,
  issue: Issue,
): Record<string, unknown> {
  const value = raw[key];
  if (value === undefined || value.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    issue(key, "must be a JSON object (invalid JSON)");
    return {};
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    issue(key, "must be a JSON object");
    return {};
  }
  return parsed as Record<string, unknown>;
}

/** Why `name` cannot be a variable of k6's environment; undefined when it can. */
function envNameProblem(name: string): string | undefined {
  // `__proto__` would vanish on the way to the worker (object keys); refuse it visibly.
  if (!ENV_NAME.test(name) || name === "__proto__")
    return `${JSON.stringify(name.slice(0, 40))} is not a valid variable name`;
  if (RESERVED_ENV.has(name)) return `${name} is set by k6-gate and cannot be overridden`;
  if (LOADER_ENV.test(name)) return `${name} is not allowed: it would weaken k6's isolation`;
  return k6SettingProblem(name);
}

function envVars(raw: Record<string, string>, issue: Issue): Record<string, string> {
  const object = jsonObject(raw, "env_vars", issue);
  const entries = Object.entries(object);
  if (entries.length > LIMITS.envVars) issue("env_vars", `at most ${LIMITS.envVars} variables`);
  const result: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of entries.slice(0, LIMITS.envVars)) {
    const nameProblem = envNameProblem(name);
    if (nameProblem) issue("env_vars", nameProblem);
    else if (typeof value !== "string")
      issue("env_vars", `${name} must be a string, got ${value === null ? "null" : typeof value}`);
    else result[name] = value;
  }
  return result;
}

function kubernetesSecrets(raw: Record<string, string>, issue: Issue): Record<string, SecretRef> {
  const entries = Object.entries(jsonObject(raw, "kubernetes_secrets", issue));
  if (entries.length > LIMITS.envVars)
    issue("kubernetes_secrets", `at most ${LIMITS.envVars} variables`);
  const result: Record<string, SecretRef> = Object.create(null) as Record<string, SecretRef>;
  for (const [name, ref] of entries.slice(0, LIMITS.envVars)) {
    const match = typeof ref === "string" ? SECRET_REF.exec(ref) : null;
    const nameProblem = envNameProblem(name);
    if (nameProblem) issue("kubernetes_secrets", nameProblem);
    else if (!match) issue("kubernetes_secrets", `${name} must be "[namespace/]secret/key"`);
    else
      result[name] = { namespace: match[1], secret: match[3] as string, key: match[5] as string };
  }
  return result;
}

const MAX_BASELINE_RUNS = 50;

function baselineRuns(raw: Record<string, string>, issue: Issue): number {
  const runs = wholeNumber(raw, "baseline_runs", DEFAULT_BASELINE_RUNS, issue);
  if (runs < 1 || runs > MAX_BASELINE_RUNS) {
    issue("baseline_runs", `must be between 1 and ${MAX_BASELINE_RUNS}, got ${runs}`);
    return DEFAULT_BASELINE_RUNS;
  }
  return runs;
}

function maxRegression(raw: Record<string, string>, issue: Issue): Record<string, string> {
  const entries = Object.entries(jsonObject(raw, "max_regression", issue));
  if (entries.length > MAX_REGRESSION_ENTRIES)
    issue("max_regression", `at most ${MAX_REGRESSION_ENTRIES} entries`);
  const result: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, limit] of entries.slice(0, MAX_REGRESSION_ENTRIES)) {
    const problem = regressionEntryProblem(key, limit);
    if (problem) issue("max_regression", problem);
    else result[key] = (limit as string).trim();
  }
  return result;
}

/** Typed metadata, or issues keyed by metadata key. */
export function parseMetadata(raw: Record<string, string>, issue: Issue): Metadata {
  for (const [key, value] of Object.entries(raw)) {
    const limit = key === "script" ? LIMITS.scriptBytes : LIMITS.metadataValueBytes;
    if (Buffer.byteLength(value) > limit) issue(key, `is larger than ${limit} bytes`);
  }
  const script = raw.script ?? "";
  if (script.trim() === "")
    issue("script", `is required: the k6 script to run${misspelled(raw, "script")}`);
  const slackChannels = (raw.slack_channels ?? "")
    .split(",")
    .map((channel) => channel.trim())
    .filter(Boolean);
  if (slackChannels.length > LIMITS.slackChannels)
    issue("slack_channels", `at most ${LIMITS.slackChannels} channels`);
  const minFailureDelayMs = duration(raw, "min_failure_delay", issue) ?? 120_000;
  const maxDurationMs = duration(raw, "max_duration", issue);
  if (maxDurationMs === 0) issue("max_duration", "must be more than 0");
  const waitTimeoutMs = duration(raw, "wait_timeout", issue);
  return {
    script,
    uploadToCloud: bool(raw, "upload_to_cloud", false, issue),
    waitForResults: bool(raw, "wait_for_results", true, issue),
    slackChannels,
    notificationContext: raw.notification_context || undefined,
    minFailureDelayMs,
    envVars: envVars(raw, issue),
    kubernetesSecrets: kubernetesSecrets(raw, issue),
    maxDurationMs,
    waitTimeoutMs,
    maxInterruptedIterations: wholeNumber(raw, "max_interrupted_iterations", 0, issue),
    supersede: bool(raw, "supersede", true, issue),
    maxRegression: maxRegression(raw, issue),
    baselineRuns: baselineRuns(raw, issue),
    failOnSaturation: bool(raw, "fail_on_saturation", false, issue),
    allowFailedRequests: bool(raw, "allow_failed_requests", false, issue),
    warnings: unknownKeyWarnings(raw),
  };
}

/** What a JSON value is: "null", "array", "number", "object"... */
function kindOf(value: unknown): string {
  if (value === null) return "null";
  return Array.isArray(value) ? "array" : typeof value;
}

/** A field's type error in plain words (zod's own says "Invalid input: expected ..."). */
function plainly(expected: string) {
  return (issue: { input?: unknown }) =>
    issue.input === undefined ? "is required" : `must be ${expected}, got ${kindOf(issue.input)}`;
}

/**
 * Metadata is parsed in its own field, so its problems are listed with those of the rest
 * of the payload; a value that is not a string is one problem, not the end of the check.
 */
const metadataSchema = z
  .record(z.string().max(256), z.unknown(), {
    error: plainly("an object of string values (Flagger sends map[string]string)"),
  })
  .transform((raw, ctx) => {
    const issue: Issue = (key, message) => ctx.addIssue({ code: "custom", path: [key], message });
    const strings: Record<string, string> = {};
    for (const [key, value] of Object.entries(raw)) {
      if (typeof value === "string") strings[key] = value;
      else issue(key, `must be a string (Flagger sends map[string]string), got ${kindOf(value)}`);
    }
    return parseMetadata(strings, issue);
  });

const k8sName = z
  .string({ error: plainly("a string") })
  .min(1, { error: "is required", abort: true })
  .max(253, "must be at most 253 characters")
  .regex(K8S_NAME, "must be a Kubernetes object name (lowercase letters, digits, - and .)");

const text = (max: number) =>
  z
    .string({ error: plainly("a string") })
    .max(max, `must be at most ${max} characters`)
    .default("");

export const webhookPayloadSchema = z.object(
  {
    name: k8sName,
    namespace: k8sName,
    phase: text(64),
    checksum: text(256),
    metadata: metadataSchema,
  },
  { error: plainly("a JSON object: Flagger's {name, namespace, phase, checksum, metadata}") },
);

export type WebhookPayload = z.output<typeof webhookPayloadSchema>;

/** A real payload has a few dozen problems at most; a hostile one, tens of thousands. */
const ISSUES_LISTED = 100;

/** "metadata.env_vars: must be a JSON object" lines, one per problem (the first 100). */
export function describeIssues(error: z.ZodError): string[] {
  const lines = error.issues.slice(0, ISSUES_LISTED).map((issue) => {
    // Paths echo the caller's keys: keep each part short.
    const path = issue.path.map((part) => String(part).slice(0, 80)).join(".") || "body";
    return `${path}: ${issue.message}`;
  });
  const more = error.issues.length - lines.length;
  return more > 0 ? [...lines, `... and ${more} more problems`] : lines;
}
