import { createHash } from "node:crypto";

/** Fields that only change who is told, or what they are told: not what runs. */
const NOT_JUDGED = new Set<string>(["slackChannels", "notificationContext", "warnings"]);

/**
 * The key of a check (a RunSpec without its key; queue.ts's runSpecOf): a digest of everything that changes what runs or how it is judged
 * (identity, script, env, secrets, limits: every field of the spec but those above), so a
 * new field of the spec is part of the key unless it is listed there.
 * Same key = same check, so Flagger's retries ride on one run.
 */
export function runKeyOf(check: object): string {
  const judged = Object.fromEntries(
    Object.entries(check).filter(([field]) => !NOT_JUDGED.has(field)),
  );
  // Prefixed with a letter so a key (and job ids built from it) is never all digits.
  return `k${createHash("sha256").update(canonicalJson(judged)).digest("hex").slice(0, 24)}`;
}

/** JSON with object keys sorted at every level and undefined left out: one text per value. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, field]) => field !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, field]) => `${JSON.stringify(key)}:${canonicalJson(field)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
