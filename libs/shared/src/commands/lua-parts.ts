import { MAX_JOB_PRIORITY } from "../queue";

/**
 * Lua shared by the run commands (decide.ts, attempt-commands.ts, ending-commands.ts), each
 * a snippet of local functions a command's body includes. Keys come from `gateKey`
 * (store/keys.ts), which every command with a `prefix` argument has.
 */

/**
 * Two numbers as one exact ZSET score: priority first, then arrival (both < 2^21, 2^32).
 * BullMQ scores its `prioritized` ZSET the same way (its getPriorityScore: priority *
 * 0x100000000 + its counter `pc` mod 2^32), and a run's arrival is taken from that counter.
 */
export const ORDER_SCORE = `
local function orderScore(priority, arrival)
  return string.format('%.0f', tonumber(priority) * 4294967296 + tonumber(arrival) % 4294967296)
end
`;

/**
 * A run's owner (`owner` in its record; runs recorded before owners existed belong to
 * their namespace), whose keys `gateKey.ownerKeys(owner)` gives (store/keys.ts).
 */
export const OWNER_OF = `
local function ownerOf(owner, namespace)
  if owner and owner ~= '' then return owner end
  return 'namespace:' .. namespace
end
`;

/**
 * Stores a run's k6 output and counts its bytes to the run's owner (`owned`), within the
 * owner's output budget (`maxOutputBytes`, 0: none; decision 44): an output that does not
 * fit is cut to its tail, behind a line that says so. Output counted for runs whose output
 * expired with their history is forgotten first when it does not fit (the count may be
 * high between such checks, never low). Needs `ttlMs` and `maxOutputBytes`.
 */
export const KEEP_OUTPUT = `
local function outputRoom(owned, outputRunId)
  local limit = tonumber(maxOutputBytes)
  if limit <= 0 then return nil end
  local mine = tonumber(redis.call('ZSCORE', owned.outputs, outputRunId) or 0)
  return limit - tonumber(redis.call('HGET', owned.usage, 'outputBytes') or 0) + mine
end
local function forgetExpiredOutputs(owned)
  local kept = redis.call('ZRANGE', owned.outputs, 0, -1, 'WITHSCORES')
  for i = 1, #kept, 2 do
    if redis.call('EXISTS', gateKey.output(kept[i])) == 0 then
      redis.call('ZREM', owned.outputs, kept[i])
      redis.call('HINCRBY', owned.usage, 'outputBytes', -tonumber(kept[i + 1]))
    end
  end
end
local function keepOutput(owned, outputRunId, key, text)
  local room = outputRoom(owned, outputRunId)
  if room and #text > room then
    forgetExpiredOutputs(owned)
    room = outputRoom(owned, outputRunId)
  end
  if room and #text > room then
    local note = '[k6-gate: the start of this output was cut: its owner keeps at most ' ..
      maxOutputBytes .. ' bytes of k6 output (MAX_OUTPUT_BYTES_PER_OWNER); older outputs ' ..
      'free room as they are pruned]\\n'
    local tail = math.max(room - #note, 0)
    text = note .. (tail > 0 and string.sub(text, -tail) or '')
  end
  local before = tonumber(redis.call('ZSCORE', owned.outputs, outputRunId) or 0)
  redis.call('SET', key, text, 'PX', ttlMs)
  redis.call('ZADD', owned.outputs, #text, outputRunId)
  redis.call('PEXPIRE', owned.outputs, ttlMs)
  redis.call('HINCRBY', owned.usage, 'outputBytes', #text - before)
  redis.call('PEXPIRE', owned.usage, ttlMs)
end
`;

/**
 * How many kept runs use a script (`script-runs:<digest>`) and how many of them are one
 * owner's (`owner:<owner>:script-runs:<digest>`): HASHes whose `runs` counts (HINCRBY: the
 * ACL user has no DECR) are created with a run and taken
 * down as retention drops it, so a script is deleted with the last run that used it and
 * leaves its owner's distinct scripts (their quota) then. Each counter expires with the
 * history (`ttlMs`, renewed by every new run), like the runs it counts: a run that expired
 * instead of being dropped never leaves a counter behind for long. The script itself is
 * `script:<digest>`, written when a worker starts a run (RunDetailsStore).
 */
export const SCRIPT_USES = `
local function scriptUseKeys(owned, digest)
  return {gateKey.scriptRuns(digest), owned.scriptRuns(digest)}
end
local function useScript(owned, digest)
  for _, key in ipairs(scriptUseKeys(owned, digest)) do
    redis.call('HINCRBY', key, 'runs', 1)
    redis.call('PEXPIRE', key, ttlMs)
  end
end
local function releaseScript(owned, digest)
  local uses = scriptUseKeys(owned, digest)
  if redis.call('HINCRBY', uses[1], 'runs', -1) <= 0 then
    redis.call('DEL', uses[1], gateKey.script(digest))
  end
  if redis.call('HINCRBY', uses[2], 'runs', -1) <= 0 then
    redis.call('DEL', uses[2])
    redis.call('ZREM', owned.scripts, digest)
  end
end
`;

/**
 * A run's stored k6 output is deleted and taken off its owner's bytes (`owned`).
 */
export const DROP_OUTPUT_OF = `
local function dropOutput(owned, droppedId, key)
  redis.call('DEL', key)
  local bytes = tonumber(redis.call('ZSCORE', owned.outputs, droppedId) or 0)
  redis.call('ZREM', owned.outputs, droppedId)
  if bytes > 0 then redis.call('HINCRBY', owned.usage, 'outputBytes', -bytes) end
  return bytes
end
`;

/**
 * Fair sharing, decided again whenever an owner's runs in flight change (decision 42): the
 * owner's queued runs, oldest first, take the places running + 1, running + 2, ... (its
 * running k6 are the live leases in its slots). A run's priority is that place; its score
 * is (priority, arrival), written to the mirror `queueOrder` and to BullMQ's `prioritized`
 * ZSET (only for a job waiting there: `XX`), with the job hash's `priority` (what BullMQ
 * re-adds a delayed or handed-back job with). So an owner with fewer runs in flight is
 * served first, and among equals the oldest run, whichever namespace it came from.
 * `placeRun` writes one run's place; `reorder` all of an owner's (its cost grows with the
 * owner's queued runs: used when its running count changes or a run leaves mid-line);
 * `runningOf` counts the owner's live leases. Needs `queueOrder` and
 * `bullPrioritized` declared.
 */
export const REORDER = `${ORDER_SCORE}
local MAX_PRIORITY = ${MAX_JOB_PRIORITY}
local function runningOf(owned, time)
  redis.call('ZREMRANGEBYSCORE', owned.slots, '-inf', time)
  return redis.call('ZCARD', owned.slots)
end
local function placeRun(queuedId, arrival, place)
  local priority = math.min(place, MAX_PRIORITY)
  local score = orderScore(priority, arrival)
  redis.call('HSET', gateKey.run(queuedId), 'priority', priority)
  redis.call('ZADD', queueOrder, score, queuedId)
  redis.call('ZADD', bullPrioritized, 'XX', score, queuedId)
  local job = gateKey.job(queuedId)
  if redis.call('EXISTS', job) == 1 then redis.call('HSET', job, 'priority', priority) end
  return priority
end
local function reorder(owned, time)
  local place = runningOf(owned, time)
  local members = redis.call('ZRANGE', owned.queued, 0, -1, 'WITHSCORES')
  for i = 1, #members, 2 do
    local queuedId = members[i]
    if redis.call('HGET', gateKey.run(queuedId), 'status') ~= 'queued' then
      redis.call('ZREM', owned.queued, queuedId)
    else
      place = place + 1
      placeRun(queuedId, members[i + 1], place)
    end
  end
end
`;

/**
 * Ends a queued or running run before k6 judged it (superseded, cancelled): a verdict that
 * fails, the run out of every in-flight index, its callers woken (`gateKey.finishedChannel`) and,
 * when it is running, its worker told to stop k6 (`gateKey.stopChannel`); its owner's queued runs
 * move up. Returns the status it had. `at`: the run's keys (`run`, `spec`) and its canary's
 * index (`canaryInFlight`), declared where the caller knows them. `by`: who ended it, as
 * the record's fields (`{'cancelledBy', login}`), field and value in turn.
 */
export const END_EARLY = `${OWNER_OF}${REORDER}
local function endEarly(endedId, at, outcome, reason, result, by)
  local f = redis.call('HMGET', at.run, 'status', 'runKey', 'owner', 'namespace')
  local owned = gateKey.ownerKeys(ownerOf(f[3], f[4]))
  redis.call('HSET', at.run, 'status', 'finished', 'finishedAt', now, 'verdict', 'fail',
    'outcome', outcome, 'reason', reason, 'result', result, unpack(by))
  -- Its run key is in its record only.
  local endedKey = gateKey.runKey(f[2])
  if redis.call('HGET', endedKey, 'current') == endedId then redis.call('HDEL', endedKey, 'current') end
  redis.call('SREM', queuedSet, endedId)
  redis.call('SREM', runningSet, endedId)
  redis.call('ZREM', queueOrder, endedId)
  redis.call('ZREM', owned.queued, endedId)
  redis.call('SREM', at.canaryInFlight, endedId)
  redis.call('DEL', at.spec)
  if f[1] == 'queued' then reorder(owned, now) end
  redis.call('PUBLISH', gateKey.finishedChannel, endedId)
  if f[1] == 'running' then
    redis.call('PUBLISH', gateKey.stopChannel, cjson.encode({runId = endedId, reason = reason}))
  end
  return f[1]
end
`;

/**
 * An owner's quotas on the shared store (decision 44), for DECIDE: what the owner keeps
 * within the history's age (`ttlMs`): canaries with runs (`ownerCanaries`, by last run)
 * and distinct scripts (`ownerScripts`, by last use). A new canary or script over its
 * quota is refused, `{quota, used, limit}`; nothing the owner keeps is dropped to make
 * room. A limit of 0: no quota. (Its output bytes are bounded where output is written:
 * KEEP_OUTPUT.)
 */
export const QUOTAS = `
local function overQuota()
  local since = tonumber(now) - tonumber(ttlMs)
  redis.call('ZREMRANGEBYSCORE', ownerCanaries, '-inf', since)
  redis.call('ZREMRANGEBYSCORE', ownerScripts, '-inf', since)
  local limit = tonumber(maxCanaries)
  if limit > 0 and not redis.call('ZSCORE', ownerCanaries, canaryId) then
    local used = redis.call('ZCARD', ownerCanaries)
    if used >= limit then return {'canaries', used, limit} end
  end
  limit = tonumber(maxScripts)
  if limit > 0 and not redis.call('ZSCORE', ownerScripts, scriptDigest) then
    local used = redis.call('ZCARD', ownerScripts)
    if used >= limit then return {'scripts', used, limit} end
  end
  return nil
end
`;
