import { z } from "zod";
import { k6ProgressSchema } from "../k6-progress";
import { runFiguresSchema, type RunSummary } from "../run-figures";
import {
  outcomes,
  runIdentitySchema,
  runResultSchema,
  runStatuses,
  type RunIdentity,
  type RunRecord,
  type SlackThread,
} from "../run";

/**
 * A run's Redis hash (`run:<runId>`, every field a string) as a record. Identity, status
 * and the fields the scripts write are checked: a record that is not one is an error
 * naming the run and the field, never read as something else (an unknown status is not
 * "queued"). JSON fields a reader can do without (the result, Slack threads, progress) are
 * null or empty when they do not parse, as for records written before they existed.
 */
const text = z.string();
/** A number the scripts wrote (a time, a count, a duration that may have a fraction). */
const number = text.trim().min(1).transform(Number).pipe(z.number().finite());
const instant = number.optional().transform((value) => value ?? null);
const optionalText = text.optional().transform((value) => value || null);

/** A JSON field, decoded and checked; `fallback` when it is missing or does not parse. */
function jsonField<T>(schema: z.ZodType<T>, fallback: T) {
  return text
    .optional()
    .transform((value, ctx) => {
      if (!value) return fallback;
      try {
        return JSON.parse(value) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "not JSON" });
        return z.NEVER;
      }
    })
    .pipe(schema)
    .catch(fallback);
}

const slackThreadSchema = z.object({
  channel: z.string(),
  ts: z.string(),
  requested: z.string().optional(),
}) satisfies z.ZodType<SlackThread>;

/** The fields a list shows (SUMMARY_FIELDS): a summary. */
const summaryHashSchema = runIdentitySchema.extend({
  id: text.min(1),
  status: z.enum(runStatuses),
  verdict: z.enum(["pass", "fail"]).optional(),
  outcome: z.enum(outcomes).optional(),
  enqueuedAt: number,
  finishedAt: instant,
  figures: jsonField(runFiguresSchema.nullable(), null),
});

const recordHashSchema = summaryHashSchema.omit({ figures: true }).extend({
  attempt: number.optional(),
  worker: optionalText,
  startedAt: instant,
  delivered: z.enum(["0", "1"]).optional(),
  reason: optionalText,
  result: jsonField(runResultSchema.nullable(), null),
  slackChannels: jsonField(z.array(z.string()), []),
  warnings: jsonField(z.array(z.string()), []),
  slackThreads: jsonField(z.array(slackThreadSchema), []),
  cloudUrl: optionalText,
  priority: instant,
  owner: optionalText,
  supersededBy: optionalText,
  supersededByToken: optionalText,
  supersededByAddress: optionalText,
  cancelledBy: optionalText,
  k6StartedAt: instant,
  expectedMs: instant,
  k6Progress: jsonField(k6ProgressSchema.nullable(), null),
});

/** The identity fields of a checked hash (RunIdentity's, without parsing them again). */
const identityIn = ({ runKey, namespace, name, phase, checksum }: RunIdentity): RunIdentity => ({
  runKey,
  namespace,
  name,
  phase,
  checksum,
});

/** A hash Redis returned: a run's, or none (no field, or only fields set after it expired). */
function parsed<T>(schema: z.ZodType<T>, hash: Record<string, string>): T | null {
  if (!hash.id) return null;
  const result = schema.safeParse(hash);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new Error(
    `run ${hash.id}: its Redis record is not a run's: ${issue?.path.join(".") || "(record)"}: ${issue?.message ?? "invalid"}`,
  );
}

/** A run's hash as a record; null when there is no run (the hash is empty or has no id). */
export function toRecord(hash: Record<string, string>): RunRecord | null {
  const run = parsed(recordHashSchema, hash);
  if (!run) return null;
  const { supersededByToken, supersededByAddress } = run;
  return {
    ...identityIn(run),
    id: run.id,
    status: run.status,
    attempt: run.attempt ?? 0,
    worker: run.worker,
    enqueuedAt: run.enqueuedAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    delivered: run.delivered === "1",
    verdict: run.verdict ?? null,
    outcome: run.outcome ?? null,
    reason: run.reason,
    result: run.result,
    slackChannels: run.slackChannels,
    warnings: run.warnings,
    slackThreads: run.slackThreads,
    cloudUrl: run.cloudUrl,
    priority: run.priority,
    // Runs recorded before owners existed belong to their namespace (ownerOf).
    owner: run.owner ?? `namespace:${run.namespace}`,
    supersededBy: run.supersededBy,
    supersededByCaller:
      supersededByToken || supersededByAddress
        ? { tokenName: supersededByToken, address: supersededByAddress }
        : null,
    cancelledBy: run.cancelledBy,
    k6StartedAt: run.k6StartedAt,
    expectedMs: run.expectedMs,
    k6Progress: run.k6Progress,
  };
}

/** A run's summary fields (SUMMARY_FIELDS) as a summary; null when there is no run. */
export function toSummary(hash: Record<string, string>): RunSummary | null {
  const run = parsed(summaryHashSchema, hash);
  if (!run) return null;
  return {
    ...identityIn(run),
    id: run.id,
    status: run.status,
    verdict: run.verdict ?? null,
    outcome: run.outcome ?? null,
    enqueuedAt: run.enqueuedAt,
    finishedAt: run.finishedAt,
    result: run.figures,
  };
}

/** HGETALL's flat [field, value, ...] reply (as a script returns it) as an object. */
export function pairs(flat: string[]): Record<string, string> {
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i] as string] = flat[i + 1] as string;
  return hash;
}

/** The record a script wrote and returned: always a whole run. */
export function writtenRecord(flat: string[]): RunRecord {
  const record = toRecord(pairs(flat));
  if (!record) throw new Error("a run script returned a record without its identity");
  return record;
}
