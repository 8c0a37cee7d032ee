import { luaCommand } from "./lua-command";

/**
 * Scripts that only read (`#!lua flags=no-writes`): several reads in one command, where
 * issuing them one by one would cost a command each on the client. Keys follow the rule of
 * decide.ts: the index is declared in KEYS, and the run records whose ids it holds are
 * built inside with `gateKey` (store/keys.ts), in the same hash-tagged slot.
 */

/** The fields of a run's hash a summary (RunStore.summaries) is built from. */
export const SUMMARY_FIELDS = [
  "id",
  "runKey",
  "namespace",
  "name",
  "phase",
  "checksum",
  "status",
  "verdict",
  "outcome",
  "enqueuedAt",
  "finishedAt",
  "figures",
] as const;

/**
 * A canary's newest `limit` runs, newest first, each as HMGET of SUMMARY_FIELDS (nil for a
 * field, or a whole run, that is missing). What ZREVRANGE then one HMGET per run would
 * return: one command per canary instead of one per run, which is most of the client's
 * CPU on a page listing 50 canaries x 40 runs (docs/benchmarks.md, section 8).
 */
export const CANARY_SUMMARIES = luaCommand(
  "canarySummaries",
  "a canary's newest runs, each as its summary fields",
  ["canaryRuns"],
  ["prefix", "limit"],
  `
local runs = {}
for _, id in ipairs(redis.call('ZREVRANGE', canaryRuns, 0, tonumber(limit) - 1)) do
  runs[#runs + 1] = redis.call('HMGET', gateKey.run(id), ${SUMMARY_FIELDS.map((field) => `'${field}'`).join(", ")})
end
return runs
`,
  { readOnly: true },
);

export const READ_COMMANDS = [CANARY_SUMMARIES];
