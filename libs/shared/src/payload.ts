import { z } from "zod";
import { parseMetadata } from "./metadata";

/**
 * Flagger's webhook payload (pkg/controller/webhook.go): `{name, namespace, phase,
 * checksum, metadata}`, metadata being a map of strings. Every metadata value is parsed
 * from its string form here, once, and every problem is reported with its key.
 */

const K8S_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

type Issue = (key: string, message: string) => void;

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
