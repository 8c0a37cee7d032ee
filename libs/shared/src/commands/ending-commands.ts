import { luaCommand } from "./lua-command";
import { DROP_OUTPUT_OF, END_EARLY, OWNER_OF, SCRIPT_USES } from "./lua-parts";

/** An operator stops a run: it ends `cancelled` now; a running one's worker stops k6. */
export const CANCEL = luaCommand(
  "cancel",
  "end a queued or running run as cancelled, recording why and by whom",
  ["runHash", "specKey", "queuedSet", "runningSet", "queueOrder", "bullPrioritized"],
  ["prefix", "runId", "now", "reason", "result", "cancelledBy"],
  `${END_EARLY}
local f = redis.call('HMGET', runHash, 'status', 'namespace', 'name')
if not f[1] then return {'missing', {}, ''} end
if f[1] == 'finished' then return {'finished', redis.call('HGETALL', runHash), ''} end
local at = {run = runHash, spec = specKey,
  canaryInFlight = gateKey.canaryInFlight(f[2] .. '/' .. f[3])}
local was = endEarly(runId, at, 'cancelled', reason, result, {'cancelledBy', cancelledBy})
return {'cancelled', redis.call('HGETALL', runHash), was}
`,
);

/**
 * A run's output is dropped (retention): it no longer counts to its owner's bytes. Reads
 * the owner from the run's record, so it runs before the record is deleted. 0: the run is
 * in flight (its output is live), nothing dropped.
 */
export const DROP_OUTPUT = luaCommand(
  "dropOutput",
  "delete a settled run's k6 output and take its bytes off its owner's count",
  ["runHash", "outputKey"],
  ["prefix", "runId"],
  `${OWNER_OF}${DROP_OUTPUT_OF}
local f = redis.call('HMGET', runHash, 'owner', 'namespace', 'status')
if f[3] == 'queued' or f[3] == 'running' then return 0 end
if not f[2] then return redis.call('DEL', outputKey) end
return dropOutput(gateKey.ownerKeys(ownerOf(f[1], f[2])), runId, outputKey)
`,
);

/**
 * Retention drops a settled run (1; 0: it is in flight, nothing written) with everything
 * kept for it alone: its record, spec, inputs and output (off its owner's bytes), its place
 * in its canary's history, its run key's hash when the run is that key's latest (a later
 * call for the same check starts a fresh run, as after expiry), and its use of its script
 * (SCRIPT_USES: the last run deletes it). Needs the record, so it runs before anything else
 * of the run is deleted.
 */
export const DROP_RUN = luaCommand(
  "dropRun",
  "delete a settled run with its output, inputs, run key and script use",
  ["runHash", "outputKey", "inputsKey", "specKey", "canaryRuns"],
  ["prefix", "runId"],
  `${OWNER_OF}${DROP_OUTPUT_OF}${SCRIPT_USES}
local f = redis.call('HMGET', runHash, 'status', 'owner', 'namespace', 'runKey', 'scriptDigest')
if f[1] == 'queued' or f[1] == 'running' then return 0 end
if f[3] then
  local owned = gateKey.ownerKeys(ownerOf(f[2], f[3]))
  dropOutput(owned, runId, outputKey)
  if f[5] then releaseScript(owned, f[5]) end
  -- Its run key is in its record only.
  local keyHash = gateKey.runKey(f[4])
  local k = redis.call('HMGET', keyHash, 'latest', 'current')
  if k[1] == runId and (not k[2] or k[2] == runId) then redis.call('DEL', keyHash) end
end
redis.call('DEL', runHash, outputKey, inputsKey, specKey)
redis.call('ZREM', canaryRuns, runId)
return 1
`,
);

export const ENDING_COMMANDS = [CANCEL, DROP_OUTPUT, DROP_RUN];
