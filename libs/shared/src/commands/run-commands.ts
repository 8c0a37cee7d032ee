import { luaCommand } from "./lua-command";

/**
 * The scripts behind RunStore. Each decision that must hold across API replicas and
 * workers happens inside one script, so Redis runs it atomically; each returns the record
 * it wrote, so no caller reads it back. `gate` is the key prefix (`<QUEUE_PREFIX>:gate:`).
 * `#!lua` makes Redis refuse a script whole when it is out of memory, rather than fail it
 * half-way through its writes.
 *
 * Every key a caller can name is declared in KEYS. The others are built inside a script
 * from `gate` and what the script reads: the records of runs whose ids it finds in an index
 * (the run a key has in flight, the runs a new revision supersedes, the new run's id from
 * its key's counter), and a run's namespace, canary and run key from its record, where the
 * caller has only the run id, and a run's owner's indexes from its `owner`. Redis Cluster
 * runs them: every key starts with QUEUE_PREFIX, whose hash tag puts them all in one slot,
 * and Redis 7 refuses only an undeclared key of another slot (decision 10). The indexes per
 * owner (the unit of fair sharing: `token:<name>` or `namespace:<ns>`, decision 42) and per
 * canary:
 * - `canary-inflight:<ns>/<name>`: SET of the canary's queued and running runs (supersede);
 * - `owner-queued:<owner>`: ZSET of the owner's queued runs by arrival (fair ordering);
 * - `slots:<owner>`: ZSET of the owner's running k6, each a lease renewed by its worker
 *   (`MAX_RUNS_PER_OWNER`, and the running part of the owner's in-flight count).
 * And per run, `waited:<runId>`: ZSET of the API processes holding a call on the run, each
 * scored by when its lease lapses (renewed while the call waits; decision 41).
 * `queueOrder` holds every queued run by (priority, arrival): the order BullMQ takes them
 * in, so a run's rank in it is its place in the queue. The same scores are written into
 * BullMQ's own `prioritized` ZSET (`bullPrioritized`) by REORDER.
 */

/**
 * Two numbers as one exact ZSET score: priority first, then arrival (both < 2^21, 2^32).
 * BullMQ scores its `prioritized` ZSET the same way (its getPriorityScore: priority *
 * 0x100000000 + its counter `pc` mod 2^32), and a run's arrival is taken from that counter.
 */
const ORDER_SCORE = `
local function orderScore(priority, arrival)
  return string.format('%.0f', tonumber(priority) * 4294967296 + tonumber(arrival) % 4294967296)
end
`;

/**
 * A run's owner (`owner` in its record; runs recorded before owners existed belong to
 * their namespace) and the owner's indexes, built from `gate`: its queued runs and slots
 * (fair sharing), and what it keeps in Redis (quotas, decision 44): `outputs` (ZSET run id
 * -> bytes of its stored k6 output), `usage` (HASH; `outputBytes`: their sum) and `scripts`
 * (ZSET of the digests of the scripts its runs use, by last use).
 */
const OWNER_KEYS = `
local function ownerKeys(owner)
  local at = gate .. 'owner:' .. owner
  return {queued = gate .. 'owner-queued:' .. owner, slots = gate .. 'slots:' .. owner,
    usage = at, outputs = at .. ':outputs', scripts = at .. ':scripts'}
end
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
 * high between such checks, never low). Needs `gate`, `ttlMs` and `maxOutputBytes`.
 */
const KEEP_OUTPUT = `
local function outputRoom(owned, outputRunId)
  local limit = tonumber(maxOutputBytes)
  if limit <= 0 then return nil end
  local mine = tonumber(redis.call('ZSCORE', owned.outputs, outputRunId) or 0)
  return limit - tonumber(redis.call('HGET', owned.usage, 'outputBytes') or 0) + mine
end
local function forgetExpiredOutputs(owned)
  local kept = redis.call('ZRANGE', owned.outputs, 0, -1, 'WITHSCORES')
  for i = 1, #kept, 2 do
    if redis.call('EXISTS', gate .. 'output:' .. kept[i]) == 0 then
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
const SCRIPT_USES = `
local function scriptUseKeys(owned, digest)
  return {gate .. 'script-runs:' .. digest, owned.usage .. ':script-runs:' .. digest}
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
    redis.call('DEL', uses[1], gate .. 'script:' .. digest)
  end
  if redis.call('HINCRBY', uses[2], 'runs', -1) <= 0 then
    redis.call('DEL', uses[2])
    redis.call('ZREM', owned.scripts, digest)
  end
end
`;

/**
 * A run's stored k6 output is deleted and taken off its owner's bytes (`owned`). Needs
 * `gate`.
 */
const DROP_OUTPUT_OF = `
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
 * `runningOf` counts the owner's live leases. Needs `gate`, `queueOrder`,
 * `bullPrioritized`, `jobPrefix` and `maxPriority`.
 */
const REORDER = `${ORDER_SCORE}
local function runningOf(owned, time)
  redis.call('ZREMRANGEBYSCORE', owned.slots, '-inf', time)
  return redis.call('ZCARD', owned.slots)
end
local function placeRun(queuedId, arrival, place)
  local priority = math.min(place, tonumber(maxPriority))
  local score = orderScore(priority, arrival)
  redis.call('HSET', gate .. 'run:' .. queuedId, 'priority', priority)
  redis.call('ZADD', queueOrder, score, queuedId)
  redis.call('ZADD', bullPrioritized, 'XX', score, queuedId)
  local job = jobPrefix .. queuedId
  if redis.call('EXISTS', job) == 1 then redis.call('HSET', job, 'priority', priority) end
  return priority
end
local function reorder(owned, time)
  local place = runningOf(owned, time)
  local members = redis.call('ZRANGE', owned.queued, 0, -1, 'WITHSCORES')
  for i = 1, #members, 2 do
    local queuedId = members[i]
    if redis.call('HGET', gate .. 'run:' .. queuedId, 'status') ~= 'queued' then
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
 * fails, the run out of every in-flight index, its callers woken (`finishedChannel`) and,
 * when it is running, its worker told to stop k6 (`stopChannel`); its owner's queued runs
 * move up. Returns the status it had. `at`: the run's keys (`run`, `spec`) and its canary's
 * index (`canaryInFlight`), declared where the caller knows them. `by`: who ended it, as
 * the record's fields (`{'cancelledBy', login}`), field and value in turn.
 */
const END_EARLY = `${OWNER_KEYS}${REORDER}
local function endEarly(endedId, at, outcome, reason, result, by)
  local f = redis.call('HMGET', at.run, 'status', 'runKey', 'owner', 'namespace')
  local owned = ownerKeys(ownerOf(f[3], f[4]))
  redis.call('HSET', at.run, 'status', 'finished', 'finishedAt', now, 'verdict', 'fail',
    'outcome', outcome, 'reason', reason, 'result', result, unpack(by))
  -- Its run key is in its record only.
  local endedKey = gate .. 'key:' .. f[2]
  if redis.call('HGET', endedKey, 'current') == endedId then redis.call('HDEL', endedKey, 'current') end
  redis.call('SREM', queuedSet, endedId)
  redis.call('SREM', runningSet, endedId)
  redis.call('ZREM', queueOrder, endedId)
  redis.call('ZREM', owned.queued, endedId)
  redis.call('SREM', at.canaryInFlight, endedId)
  redis.call('DEL', at.spec)
  if f[1] == 'queued' then reorder(owned, now) end
  redis.call('PUBLISH', finishedChannel, endedId)
  if f[1] == 'running' then
    redis.call('PUBLISH', stopChannel, cjson.encode({runId = endedId, reason = reason}))
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
const QUOTAS = `
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

/**
 * Design §3's four-step rule for one run key, plus the backlog check. A created run
 * supersedes the canary's queued and running runs of the same phase for other revisions
 * (unless this call or that run said `supersede: "false"`), recording on each who called
 * (`callerToken`, `callerAddress`). A run someone waits on (a live lease in its
 * `waited:<runId>`) is never superseded: it runs on and answers its caller. A superseded run
 * is no verdict on its revision (decision 41): it is never delivered nor a recent failure,
 * so the next call for that revision starts a fresh run. With `waiter` set (the call will
 * long-poll), the run it attaches to or creates gets that process's lease until `now +
 * waitLeaseMs`. A run the owner's quotas refuse (QUOTAS) is `quota`,
 * before anything is superseded. The created run belongs to `owner`, arrives now (BullMQ's
 * priority counter, `bullCounter`) and gets its place among the owner's queued runs
 * (REORDER: behind them, by the owner's runs in flight).
 */
export const DECIDE = luaCommand(
  "decide",
  "attach, deliver, recent failure, busy, or create a queued run (superseding stale ones)",
  [
    "keyHash",
    "queuedSet",
    "runningSet",
    "canaryRuns",
    "canaries",
    "canaryInFlight",
    "ownerQueued",
    "ownerSlots",
    "ownerCanaries",
    "ownerScripts",
    "queueOrder",
    "bullPrioritized",
    "bullCounter",
  ],
  [
    "gate",
    "jobPrefix",
    "runKey",
    "now",
    "minFailureDelayMs",
    "maxQueueDepth",
    "identity",
    "owner",
    "slackChannels",
    "warnings",
    "canaryId",
    "ttlMs",
    "spec",
    "supersede",
    "supersededReason",
    "supersededResult",
    "callerToken",
    "callerAddress",
    "maxPriority",
    "scriptDigest",
    "maxCanaries",
    "maxScripts",
    "finishedChannel",
    "stopChannel",
    "waiter",
    "waitLeaseMs",
  ],
  `${END_EARLY}${QUOTAS}${SCRIPT_USES}
local function record(id) return redis.call('HGETALL', gate .. 'run:' .. id) end
-- The caller will long-poll this run: it is waited on (only the run's own key, from its id).
local function holdWaited(id)
  if waiter == '' then return end
  local waited = gate .. 'waited:' .. id
  redis.call('ZADD', waited, tonumber(now) + tonumber(waitLeaseMs), waiter)
  redis.call('PEXPIRE', waited, waitLeaseMs)
end
local current = redis.call('HGET', keyHash, 'current')
if current then
  local status = redis.call('HGET', gate .. 'run:' .. current, 'status')
  if status == 'queued' or status == 'running' then
    holdWaited(current)
    return {'attach', record(current), {}}
  end
end
local latest = redis.call('HGET', keyHash, 'latest')
if latest then
  local f = redis.call('HMGET', gate .. 'run:' .. latest, 'status', 'delivered', 'verdict', 'finishedAt',
    'outcome')
  if f[1] == 'finished' and f[5] ~= 'superseded' then
    if f[2] ~= '1' then return {'deliver', record(latest), {}} end
    if f[3] == 'fail' and tonumber(f[4]) + tonumber(minFailureDelayMs) > tonumber(now) then
      return {'recent_failure', record(latest), {}}
    end
  end
end
if redis.call('SCARD', queuedSet) >= tonumber(maxQueueDepth) then return {'busy', {}, {}} end
-- Refused before anything is written or superseded.
local over = overQuota()
if over then return {'quota', {}, over} end
local fields = cjson.decode(identity)
local seq = redis.call('HINCRBY', keyHash, 'seq', 1)
local id = runKey .. '-' .. seq
-- A run key pruned with its runs (DROP_RUN) counts again from 1: past any run still kept
-- and any job BullMQ still keeps by that id (it keeps finished jobs for a day, and would
-- ignore a new job with an id it has).
while redis.call('EXISTS', gate .. 'run:' .. id, jobPrefix .. id) > 0 do
  seq = redis.call('HINCRBY', keyHash, 'seq', 1)
  id = runKey .. '-' .. seq
end
-- Supersede: this canary's runs of this phase for another revision end now, unless a call
-- waits on them (Flagger never does while it calls for a new revision: decision 41).
local superseded = {}
for _, other in ipairs(redis.call('SMEMBERS', canaryInFlight)) do
  local f = redis.call('HMGET', gate .. 'run:' .. other, 'status', 'phase', 'checksum', 'supersede')
  if f[1] ~= 'queued' and f[1] ~= 'running' then
    redis.call('SREM', canaryInFlight, other)
  elseif supersede == '1' and f[4] ~= '0' and f[2] == fields.phase and f[3] ~= fields.checksum
    and redis.call('ZCOUNT', gate .. 'waited:' .. other, now, '+inf') == 0 then
    -- A run of this canary: only its own keys are built from its id (its owner's, in endEarly).
    local at = {run = gate .. 'run:' .. other, spec = gate .. 'spec:' .. other,
      canaryInFlight = canaryInFlight}
    local by = {'supersededBy', id, 'supersededByToken', callerToken,
      'supersededByAddress', callerAddress}
    local was = endEarly(other, at, 'superseded', supersededReason, supersededResult, by)
    table.insert(superseded, other)
    table.insert(superseded, was)
  end
end
local arrival = redis.call('INCR', bullCounter) % 4294967296
local run = gate .. 'run:' .. id
for field, value in pairs(fields) do redis.call('HSET', run, field, value) end
redis.call('HSET', run, 'id', id, 'status', 'queued', 'attempt', 0, 'owner', owner,
  'enqueuedAt', now, 'delivered', '0', 'slackChannels', slackChannels, 'warnings', warnings,
  'arrival', arrival, 'supersede', supersede, 'scriptDigest', scriptDigest)
redis.call('PEXPIRE', run, ttlMs)
redis.call('SET', gate .. 'spec:' .. id, spec, 'PX', ttlMs)
redis.call('HSET', keyHash, 'current', id, 'latest', id)
redis.call('PEXPIRE', keyHash, ttlMs)
redis.call('SADD', queuedSet, id)
-- The newest arrival: behind the owner's queued runs, which keep their places.
local place = runningOf({queued = ownerQueued, slots = ownerSlots}, now)
  + redis.call('ZCARD', ownerQueued) + 1
redis.call('ZADD', ownerQueued, arrival, id)
placeRun(id, arrival, place)
redis.call('SADD', canaryInFlight, id)
redis.call('PEXPIRE', canaryInFlight, ttlMs)
redis.call('ZADD', canaryRuns, now, id)
redis.call('ZADD', canaries, now, canaryId)
redis.call('ZADD', ownerCanaries, now, canaryId)
redis.call('PEXPIRE', ownerCanaries, ttlMs)
redis.call('ZADD', ownerScripts, now, scriptDigest)
redis.call('PEXPIRE', ownerScripts, ttlMs)
useScript(ownerKeys(owner), scriptDigest)
holdWaited(id)
return {'created', record(id), superseded}
`,
);

/**
 * A worker takes a run up: it becomes this attempt's, fenced by `attemptToken`, and holds
 * one of its owner's slots (a lease until `now + leaseMs`, renewed by HEARTBEAT); the
 * owner's other queued runs move back by one. 'deferred' (nothing written) when the owner
 * already runs `maxRunsPerOwner` k6.
 */
export const START = luaCommand(
  "start",
  "mark a run running under a new attempt; 'deferred', 'finished' or 'missing' when it must not run now",
  ["runHash", "queuedSet", "runningSet", "queueOrder", "bullPrioritized"],
  [
    "gate",
    "jobPrefix",
    "runId",
    "now",
    "worker",
    "attemptToken",
    "maxRunsPerOwner",
    "leaseMs",
    "maxPriority",
  ],
  `${OWNER_KEYS}${REORDER}
local f = redis.call('HMGET', runHash, 'status', 'owner', 'namespace')
if not f[1] then return {'missing', {}} end
if f[1] == 'finished' then return {'finished', {}} end
local owned = ownerKeys(ownerOf(f[2], f[3]))
redis.call('ZREMRANGEBYSCORE', owned.slots, '-inf', now)
local cap = tonumber(maxRunsPerOwner)
-- A new attempt of the same run takes over its own slot (its last worker died).
if cap > 0 and not redis.call('ZSCORE', owned.slots, runId) and redis.call('ZCARD', owned.slots) >= cap then
  return {'deferred', {}}
end
redis.call('ZADD', owned.slots, string.format('%.0f', tonumber(now) + tonumber(leaseMs)), runId)
redis.call('PEXPIRE', owned.slots, leaseMs)
redis.call('HINCRBY', runHash, 'attempt', 1)
redis.call('HSET', runHash, 'status', 'running', 'startedAt', now, 'worker', worker,
  'attemptToken', attemptToken)
-- A new attempt's k6 has not started yet: no progress of an earlier one shows.
redis.call('HDEL', runHash, 'k6StartedAt', 'expectedMs', 'k6Progress')
redis.call('SREM', queuedSet, runId)
redis.call('SADD', runningSet, runId)
redis.call('ZREM', queueOrder, runId)
-- The owner's first queued run: the others keep their places (one more running, one fewer
-- ahead). Any other: those ahead of it move back by one.
local rank = redis.call('ZRANK', owned.queued, runId)
redis.call('ZREM', owned.queued, runId)
if rank and rank > 0 then reorder(owned, now) end
return {'started', redis.call('HGETALL', runHash)}
`,
);

/**
 * A run handed back by its (current) attempt waits in the queue again, in its old place
 * (its arrival), its owner's slot free.
 */
export const REQUEUE = luaCommand(
  "requeue",
  "put a running run back to queued, only from its current attempt",
  ["runHash", "queuedSet", "runningSet", "queueOrder", "bullPrioritized"],
  ["gate", "jobPrefix", "runId", "attemptToken", "now", "maxPriority"],
  `${OWNER_KEYS}${REORDER}
local f = redis.call('HMGET', runHash, 'status', 'attemptToken', 'owner', 'namespace', 'arrival')
if f[1] ~= 'running' or f[2] ~= attemptToken then return 0 end
local owned = ownerKeys(ownerOf(f[3], f[4]))
redis.call('HSET', runHash, 'status', 'queued')
redis.call('HDEL', runHash, 'startedAt', 'worker', 'attemptToken')
redis.call('SREM', runningSet, runId)
redis.call('SADD', queuedSet, runId)
redis.call('ZREM', owned.slots, runId)
redis.call('ZADD', owned.queued, f[5] or 0, runId)
reorder(owned, now)
return 1
`,
);

/**
 * Records a verdict (and the output) once, from the current attempt only: a stale attempt
 * (its worker froze past its lock and another took the run up) is refused, before or after
 * the current one finished (the token of the attempt that ran last stays on the record).
 * An empty `attemptToken` ends the run whatever attempt holds it: for runs whose job is gone.
 * The attempt a run was superseded or cancelled under still stores k6's output. A verdict
 * from the current attempt comes after its k6 exited: its owner's slot is free at once, and
 * the owner's queued runs move up before the worker takes its next job.
 */
export const FINISH = luaCommand(
  "finish",
  "record the verdict from the current attempt, wake every long-poll",
  [
    "runHash",
    "queuedSet",
    "runningSet",
    "queueOrder",
    "bullPrioritized",
    "outputKey",
    "specKey",
    "recentDurations",
  ],
  [
    "gate",
    "jobPrefix",
    "runId",
    "attemptToken",
    "finishedAt",
    "verdict",
    "outcome",
    "reason",
    "result",
    "figures",
    "cloudUrl",
    "output",
    "writeOutput",
    "ttlMs",
    "durationMs",
    "maxPriority",
    "maxOutputBytes",
    "channel",
  ],
  `${OWNER_KEYS}${REORDER}${KEEP_OUTPUT}
local f = redis.call('HMGET', runHash, 'status', 'attemptToken', 'runKey', 'namespace', 'name',
  'outcome', 'owner')
if not f[1] then return {'missing', {}} end
if attemptToken ~= '' and f[2] ~= attemptToken then
  return {'stale', redis.call('HGETALL', runHash)}
end
if f[1] == 'finished' then
  if attemptToken ~= '' and writeOutput == '1' and (f[6] == 'superseded' or f[6] == 'cancelled') then
    keepOutput(ownerKeys(ownerOf(f[7], f[4])), runId, outputKey, output)
  end
  return {'already', redis.call('HGETALL', runHash)}
end
redis.call('HSET', runHash, 'status', 'finished', 'finishedAt', finishedAt, 'verdict', verdict,
  'outcome', outcome, 'reason', reason, 'result', result, 'figures', figures, 'cloudUrl', cloudUrl)
local keyHash = gate .. 'key:' .. f[3]
if redis.call('HGET', keyHash, 'current') == runId then redis.call('HDEL', keyHash, 'current') end
local owned = ownerKeys(ownerOf(f[7], f[4]))
redis.call('SREM', queuedSet, runId)
redis.call('SREM', runningSet, runId)
redis.call('ZREM', queueOrder, runId)
redis.call('ZREM', owned.queued, runId)
if attemptToken ~= '' then redis.call('ZREM', owned.slots, runId) end
redis.call('SREM', gate .. 'canary-inflight:' .. f[4] .. '/' .. f[5], runId)
if writeOutput == '1' then keepOutput(owned, runId, outputKey, output) end
redis.call('DEL', specKey)
redis.call('LPUSH', recentDurations, durationMs)
redis.call('LTRIM', recentDurations, 0, 19)
reorder(owned, finishedAt)
redis.call('PUBLISH', channel, runId)
return {'recorded', redis.call('HGETALL', runHash)}
`,
);

/** An operator stops a run: it ends `cancelled` now; a running one's worker stops k6. */
export const CANCEL = luaCommand(
  "cancel",
  "end a queued or running run as cancelled, recording why and by whom",
  ["runHash", "specKey", "queuedSet", "runningSet", "queueOrder", "bullPrioritized"],
  [
    "gate",
    "jobPrefix",
    "runId",
    "now",
    "reason",
    "result",
    "cancelledBy",
    "maxPriority",
    "finishedChannel",
    "stopChannel",
  ],
  `${END_EARLY}
local f = redis.call('HMGET', runHash, 'status', 'namespace', 'name')
if not f[1] then return {'missing', {}, ''} end
if f[1] == 'finished' then return {'finished', redis.call('HGETALL', runHash), ''} end
local at = {run = runHash, spec = specKey,
  canaryInFlight = gate .. 'canary-inflight:' .. f[2] .. '/' .. f[3]}
local was = endEarly(runId, at, 'cancelled', reason, result, {'cancelledBy', cancelledBy})
return {'cancelled', redis.call('HGETALL', runHash), was}
`,
);

/**
 * The worker running an attempt, every second: renews its owner's slot and learns whether
 * the run is still its own to run ('running'), ended under it ('ended': superseded or
 * cancelled, with the reason) or taken by another attempt or gone ('lost').
 */
export const HEARTBEAT = luaCommand(
  "heartbeat",
  "renew an attempt's owner slot; say whether it should still run",
  ["runHash"],
  ["gate", "runId", "attemptToken", "now", "leaseMs"],
  `${OWNER_KEYS}
local f = redis.call('HMGET', runHash, 'status', 'attemptToken', 'namespace', 'reason', 'owner')
if f[2] ~= attemptToken then return {'lost', ''} end
local slots = ownerKeys(ownerOf(f[5], f[3])).slots
redis.call('ZADD', slots, 'XX', string.format('%.0f', tonumber(now) + tonumber(leaseMs)), runId)
redis.call('PEXPIRE', slots, leaseMs)
if f[1] == 'running' then return {'running', ''} end
return {'ended', f[4] or ''}
`,
);

/**
 * An attempt is over (k6 gone): its owner's slot is free, unless another attempt holds the
 * run, and the owner's queued runs move up.
 */
export const RELEASE = luaCommand(
  "release",
  "free an attempt's owner slot",
  ["runHash", "queueOrder", "bullPrioritized"],
  ["gate", "jobPrefix", "runId", "attemptToken", "now", "maxPriority"],
  `${OWNER_KEYS}${REORDER}
local f = redis.call('HMGET', runHash, 'status', 'attemptToken', 'owner', 'namespace')
if not f[1] or (f[1] == 'running' and f[2] ~= attemptToken) then return 0 end
local owned = ownerKeys(ownerOf(f[3], f[4]))
local freed = redis.call('ZREM', owned.slots, runId)
if freed == 1 then reorder(owned, now) end
return freed
`,
);

/**
 * Puts a queued run's job in its place (REORDER's), for a job BullMQ has just added with a
 * priority decided before it existed (a new run's job, one added or handed back again):
 * its owner's running k6 plus the owner's queued runs that arrived before it.
 */
export const PLACE = luaCommand(
  "place",
  "write a queued run's place into BullMQ's prioritized set",
  ["runHash", "queueOrder", "bullPrioritized"],
  ["gate", "jobPrefix", "runId", "now", "maxPriority"],
  `${OWNER_KEYS}${REORDER}
local f = redis.call('HMGET', runHash, 'status', 'owner', 'namespace', 'arrival')
if f[1] ~= 'queued' or not f[4] then return 0 end
local owned = ownerKeys(ownerOf(f[2], f[3]))
local rank = redis.call('ZRANK', owned.queued, runId)
if not rank then return 0 end
placeRun(runId, f[4], runningOf(owned, now) + rank + 1)
return 1
`,
);

/** Live output while k6 runs, from the current attempt only. */
export const LIVE_OUTPUT = luaCommand(
  "liveOutput",
  "store a running run's output so far, only from its current attempt",
  ["runHash", "outputKey"],
  ["gate", "runId", "attemptToken", "output", "ttlMs", "maxOutputBytes"],
  `${OWNER_KEYS}${KEEP_OUTPUT}
local f = redis.call('HMGET', runHash, 'status', 'attemptToken', 'owner', 'namespace')
if f[1] ~= 'running' or f[2] ~= attemptToken then return 0 end
keepOutput(ownerKeys(ownerOf(f[3], f[4])), runId, outputKey, output)
return 1
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
  ["gate", "runId"],
  `${OWNER_KEYS}${DROP_OUTPUT_OF}
local f = redis.call('HMGET', runHash, 'owner', 'namespace', 'status')
if f[3] == 'queued' or f[3] == 'running' then return 0 end
if not f[2] then return redis.call('DEL', outputKey) end
return dropOutput(ownerKeys(ownerOf(f[1], f[2])), runId, outputKey)
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
  ["gate", "runId"],
  `${OWNER_KEYS}${DROP_OUTPUT_OF}${SCRIPT_USES}
local f = redis.call('HMGET', runHash, 'status', 'owner', 'namespace', 'runKey', 'scriptDigest')
if f[1] == 'queued' or f[1] == 'running' then return 0 end
if f[3] then
  local owned = ownerKeys(ownerOf(f[2], f[3]))
  dropOutput(owned, runId, outputKey)
  if f[5] then releaseScript(owned, f[5]) end
  -- Its run key is in its record only.
  local keyHash = gate .. 'key:' .. f[4]
  local k = redis.call('HMGET', keyHash, 'latest', 'current')
  if k[1] == runId and (not k[2] or k[2] == runId) then redis.call('DEL', keyHash) end
end
redis.call('DEL', runHash, outputKey, inputsKey, specKey)
redis.call('ZREM', canaryRuns, runId)
return 1
`,
);

/**
 * k6's progress from the current attempt only: when `k6 run` started with the scenarios'
 * expected time (`k6StartedAt` empty: left as it is; `expectedMs` empty: unknown), and its
 * latest VU and iteration counts (`progress` JSON; empty: left as it is).
 */
export const K6_PROGRESS = luaCommand(
  "k6Progress",
  "store a running run's k6 start, expected time and progress, only from its current attempt",
  ["runHash"],
  ["attemptToken", "k6StartedAt", "expectedMs", "progress"],
  `
local f = redis.call('HMGET', runHash, 'status', 'attemptToken')
if f[1] ~= 'running' or f[2] ~= attemptToken then return 0 end
if k6StartedAt ~= '' then
  redis.call('HSET', runHash, 'k6StartedAt', k6StartedAt)
  if expectedMs ~= '' then redis.call('HSET', runHash, 'expectedMs', expectedMs)
  else redis.call('HDEL', runHash, 'expectedMs') end
end
if progress ~= '' then redis.call('HSET', runHash, 'k6Progress', progress) end
return 1
`,
);

export const RUN_COMMANDS = [
  DECIDE,
  START,
  REQUEUE,
  FINISH,
  CANCEL,
  HEARTBEAT,
  RELEASE,
  PLACE,
  LIVE_OUTPUT,
  DROP_OUTPUT,
  DROP_RUN,
  K6_PROGRESS,
];
