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
 * caller has only the run id. Redis Cluster runs them: every key starts with QUEUE_PREFIX,
 * whose hash tag puts them all in one slot, and Redis 7 refuses only an undeclared key of
 * another slot (decision 10). The indexes per namespace and per canary:
 * - `canary-inflight:<ns>/<name>`: SET of the canary's queued and running runs (supersede);
 * - `ns-queued:<ns>`: ZSET of the namespace's queued runs by priority (fair ordering);
 * - `slots:<ns>`: ZSET of the namespace's running k6, each a lease renewed by its worker
 *   (`MAX_RUNS_PER_NAMESPACE`, and the running part of the namespace's in-flight count).
 * `queueOrder` holds every queued run by (priority, arrival): the order BullMQ takes them
 * in, so a run's rank in it is its place in the queue.
 */

/** Two numbers as one exact ZSET score: priority first, then arrival (both < 2^21, 2^32). */
const ORDER_SCORE = `
local function orderScore(priority, arrival)
  return string.format('%.0f', tonumber(priority) * 4294967296 + tonumber(arrival))
end
`;

/**
 * Ends a queued or running run before k6 judged it (superseded, cancelled): a verdict that
 * fails, the run out of every in-flight index, its callers woken (`finishedChannel`) and,
 * when it is running, its worker told to stop k6 (`stopChannel`). Returns the status it had.
 * `at`: the run's keys (`run`, `spec`) and its namespace's and canary's indexes
 * (`namespaceQueued`, `canaryInFlight`), declared where the caller knows them.
 */
const END_EARLY = `
local function endEarly(endedId, at, outcome, reason, result, byField, byValue)
  local f = redis.call('HMGET', at.run, 'status', 'runKey')
  redis.call('HSET', at.run, 'status', 'finished', 'finishedAt', now, 'verdict', 'fail',
    'outcome', outcome, 'reason', reason, 'result', result, byField, byValue)
  -- Its run key is in its record only.
  local endedKey = gate .. 'key:' .. f[2]
  if redis.call('HGET', endedKey, 'current') == endedId then redis.call('HDEL', endedKey, 'current') end
  redis.call('SREM', queuedSet, endedId)
  redis.call('SREM', runningSet, endedId)
  redis.call('ZREM', queueOrder, endedId)
  redis.call('ZREM', at.namespaceQueued, endedId)
  redis.call('SREM', at.canaryInFlight, endedId)
  redis.call('DEL', at.spec)
  redis.call('PUBLISH', finishedChannel, endedId)
  if f[1] == 'running' then
    redis.call('PUBLISH', stopChannel, cjson.encode({runId = endedId, reason = reason}))
  end
  return f[1]
end
`;

/**
 * Design §3's four-step rule for one run key, plus the backlog check. A created run
 * supersedes the canary's queued and running runs of the same phase for other revisions
 * (unless this call or that run said `supersede: "false"`), and gets its priority: one more
 * than its namespace's runs in flight, never ahead of that namespace's own queued runs.
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
    "namespaceQueued",
    "namespaceSlots",
    "queueOrder",
    "queueCounter",
  ],
  [
    "gate",
    "runKey",
    "now",
    "minFailureDelayMs",
    "maxQueueDepth",
    "identity",
    "slackChannels",
    "warnings",
    "canaryId",
    "ttlMs",
    "spec",
    "supersede",
    "supersededReason",
    "supersededResult",
    "maxPriority",
    "finishedChannel",
    "stopChannel",
  ],
  `${ORDER_SCORE}${END_EARLY}
local function record(id) return redis.call('HGETALL', gate .. 'run:' .. id) end
local current = redis.call('HGET', keyHash, 'current')
if current then
  local status = redis.call('HGET', gate .. 'run:' .. current, 'status')
  if status == 'queued' or status == 'running' then return {'attach', record(current), {}} end
end
local latest = redis.call('HGET', keyHash, 'latest')
if latest then
  local f = redis.call('HMGET', gate .. 'run:' .. latest, 'status', 'delivered', 'verdict', 'finishedAt')
  if f[1] == 'finished' then
    if f[2] ~= '1' then return {'deliver', record(latest), {}} end
    if f[3] == 'fail' and tonumber(f[4]) + tonumber(minFailureDelayMs) > tonumber(now) then
      return {'recent_failure', record(latest), {}}
    end
  end
end
if redis.call('SCARD', queuedSet) >= tonumber(maxQueueDepth) then return {'busy', {}, {}} end
local fields = cjson.decode(identity)
local seq = redis.call('HINCRBY', keyHash, 'seq', 1)
local id = runKey .. '-' .. seq
-- Supersede: this canary's runs of this phase for another revision end now.
local superseded = {}
for _, other in ipairs(redis.call('SMEMBERS', canaryInFlight)) do
  local f = redis.call('HMGET', gate .. 'run:' .. other, 'status', 'phase', 'checksum', 'supersede')
  if f[1] ~= 'queued' and f[1] ~= 'running' then
    redis.call('SREM', canaryInFlight, other)
  elseif supersede == '1' and f[4] ~= '0' and f[2] == fields.phase and f[3] ~= fields.checksum then
    -- A run of this canary, so of its namespace: only its own keys are built from its id.
    local at = {run = gate .. 'run:' .. other, spec = gate .. 'spec:' .. other,
      namespaceQueued = namespaceQueued, canaryInFlight = canaryInFlight}
    local was = endEarly(other, at, 'superseded', supersededReason, supersededResult, 'supersededBy', id)
    table.insert(superseded, other)
    table.insert(superseded, was)
  end
end
-- Fair ordering: the namespace's runs in flight (queued, and running k6 with a live lease).
redis.call('ZREMRANGEBYSCORE', namespaceSlots, '-inf', now)
for _, queued in ipairs(redis.call('ZRANGE', namespaceQueued, 0, -1)) do
  if redis.call('HGET', gate .. 'run:' .. queued, 'status') ~= 'queued' then
    redis.call('ZREM', namespaceQueued, queued)
    redis.call('ZREM', queueOrder, queued)
  end
end
local inFlight = redis.call('ZCARD', namespaceQueued) + redis.call('ZCARD', namespaceSlots)
local last = redis.call('ZRANGE', namespaceQueued, -1, -1, 'WITHSCORES')
local priority = math.max(1 + inFlight, tonumber(last[2] or 0))
priority = math.min(priority, tonumber(maxPriority))
local arrival = redis.call('INCR', queueCounter) % 4294967296
local run = gate .. 'run:' .. id
for field, value in pairs(fields) do redis.call('HSET', run, field, value) end
redis.call('HSET', run, 'id', id, 'status', 'queued', 'attempt', 0,
  'enqueuedAt', now, 'delivered', '0', 'slackChannels', slackChannels, 'warnings', warnings,
  'priority', priority, 'arrival', arrival, 'supersede', supersede)
redis.call('PEXPIRE', run, ttlMs)
redis.call('SET', gate .. 'spec:' .. id, spec, 'PX', ttlMs)
redis.call('HSET', keyHash, 'current', id, 'latest', id)
redis.call('PEXPIRE', keyHash, ttlMs)
redis.call('SADD', queuedSet, id)
redis.call('ZADD', namespaceQueued, priority, id)
redis.call('ZADD', queueOrder, orderScore(priority, arrival), id)
redis.call('SADD', canaryInFlight, id)
redis.call('PEXPIRE', canaryInFlight, ttlMs)
redis.call('ZADD', canaryRuns, now, id)
redis.call('ZADD', canaries, now, canaryId)
return {'created', record(id), superseded}
`,
);

/**
 * A worker takes a run up: it becomes this attempt's, fenced by `attemptToken`, and holds
 * one of its namespace's slots (a lease until `now + leaseMs`, renewed by HEARTBEAT).
 * 'deferred' (nothing written) when the namespace already runs `maxRunsPerNamespace` k6.
 */
export const START = luaCommand(
  "start",
  "mark a run running under a new attempt; 'deferred', 'finished' or 'missing' when it must not run now",
  ["runHash", "queuedSet", "runningSet", "queueOrder"],
  ["gate", "runId", "now", "worker", "attemptToken", "maxRunsPerNamespace", "leaseMs"],
  `
local f = redis.call('HMGET', runHash, 'status', 'namespace')
if not f[1] then return {'missing', {}} end
if f[1] == 'finished' then return {'finished', {}} end
local slots = gate .. 'slots:' .. f[2]
redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
local cap = tonumber(maxRunsPerNamespace)
-- A new attempt of the same run takes over its own slot (its last worker died).
if cap > 0 and not redis.call('ZSCORE', slots, runId) and redis.call('ZCARD', slots) >= cap then
  return {'deferred', {}}
end
redis.call('ZADD', slots, string.format('%.0f', tonumber(now) + tonumber(leaseMs)), runId)
redis.call('PEXPIRE', slots, leaseMs)
redis.call('HINCRBY', runHash, 'attempt', 1)
redis.call('HSET', runHash, 'status', 'running', 'startedAt', now, 'worker', worker,
  'attemptToken', attemptToken)
-- A new attempt's k6 has not started yet: no progress of an earlier one shows.
redis.call('HDEL', runHash, 'k6StartedAt', 'expectedMs', 'k6Progress')
redis.call('SREM', queuedSet, runId)
redis.call('SADD', runningSet, runId)
redis.call('ZREM', queueOrder, runId)
redis.call('ZREM', gate .. 'ns-queued:' .. f[2], runId)
return {'started', redis.call('HGETALL', runHash)}
`,
);

/** A run handed back by its (current) attempt waits in the queue again, in its old place. */
export const REQUEUE = luaCommand(
  "requeue",
  "put a running run back to queued, only from its current attempt",
  ["runHash", "queuedSet", "runningSet", "queueOrder"],
  ["gate", "runId", "attemptToken"],
  `${ORDER_SCORE}
local f = redis.call('HMGET', runHash, 'status', 'attemptToken', 'namespace', 'priority', 'arrival')
if f[1] ~= 'running' or f[2] ~= attemptToken then return 0 end
redis.call('HSET', runHash, 'status', 'queued')
redis.call('HDEL', runHash, 'startedAt', 'worker', 'attemptToken')
redis.call('SREM', runningSet, runId)
redis.call('SADD', queuedSet, runId)
redis.call('ZREM', gate .. 'slots:' .. f[3], runId)
if f[4] then
  redis.call('ZADD', gate .. 'ns-queued:' .. f[3], f[4], runId)
  redis.call('ZADD', queueOrder, orderScore(f[4], f[5] or 0), runId)
end
return 1
`,
);

/**
 * Records a verdict (and the output) once, from the current attempt only: a stale attempt
 * (its worker froze past its lock and another took the run up) is refused, before or after
 * the current one finished (the token of the attempt that ran last stays on the record).
 * An empty `attemptToken` ends the run whatever attempt holds it: for runs whose job is gone.
 * The attempt a run was superseded or cancelled under still stores k6's output.
 */
export const FINISH = luaCommand(
  "finish",
  "record the verdict from the current attempt, wake every long-poll",
  ["runHash", "queuedSet", "runningSet", "queueOrder", "outputKey", "specKey", "recentDurations"],
  [
    "gate",
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
    "channel",
  ],
  `
local f = redis.call('HMGET', runHash, 'status', 'attemptToken', 'runKey', 'namespace', 'name',
  'outcome')
if not f[1] then return {'missing', {}} end
if attemptToken ~= '' and f[2] ~= attemptToken then
  return {'stale', redis.call('HGETALL', runHash)}
end
if f[1] == 'finished' then
  if attemptToken ~= '' and writeOutput == '1' and (f[6] == 'superseded' or f[6] == 'cancelled') then
    redis.call('SET', outputKey, output, 'PX', ttlMs)
  end
  return {'already', redis.call('HGETALL', runHash)}
end
redis.call('HSET', runHash, 'status', 'finished', 'finishedAt', finishedAt, 'verdict', verdict,
  'outcome', outcome, 'reason', reason, 'result', result, 'figures', figures, 'cloudUrl', cloudUrl)
local keyHash = gate .. 'key:' .. f[3]
if redis.call('HGET', keyHash, 'current') == runId then redis.call('HDEL', keyHash, 'current') end
redis.call('SREM', queuedSet, runId)
redis.call('SREM', runningSet, runId)
redis.call('ZREM', queueOrder, runId)
redis.call('ZREM', gate .. 'ns-queued:' .. f[4], runId)
redis.call('SREM', gate .. 'canary-inflight:' .. f[4] .. '/' .. f[5], runId)
if writeOutput == '1' then redis.call('SET', outputKey, output, 'PX', ttlMs) end
redis.call('DEL', specKey)
redis.call('LPUSH', recentDurations, durationMs)
redis.call('LTRIM', recentDurations, 0, 19)
redis.call('PUBLISH', channel, runId)
return {'recorded', redis.call('HGETALL', runHash)}
`,
);

/** An operator stops a run: it ends `cancelled` now; a running one's worker stops k6. */
export const CANCEL = luaCommand(
  "cancel",
  "end a queued or running run as cancelled, recording why and by whom",
  ["runHash", "specKey", "queuedSet", "runningSet", "queueOrder"],
  ["gate", "runId", "now", "reason", "result", "cancelledBy", "finishedChannel", "stopChannel"],
  `${END_EARLY}
local f = redis.call('HMGET', runHash, 'status', 'namespace', 'name')
if not f[1] then return {'missing', {}, ''} end
if f[1] == 'finished' then return {'finished', redis.call('HGETALL', runHash), ''} end
local at = {run = runHash, spec = specKey, namespaceQueued = gate .. 'ns-queued:' .. f[2],
  canaryInFlight = gate .. 'canary-inflight:' .. f[2] .. '/' .. f[3]}
local was = endEarly(runId, at, 'cancelled', reason, result, 'cancelledBy', cancelledBy)
return {'cancelled', redis.call('HGETALL', runHash), was}
`,
);

/**
 * The worker running an attempt, every second: renews its namespace slot and learns
 * whether the run is still its own to run ('running'), ended under it ('ended': superseded
 * or cancelled, with the reason) or taken by another attempt or gone ('lost').
 */
export const HEARTBEAT = luaCommand(
  "heartbeat",
  "renew an attempt's namespace slot; say whether it should still run",
  ["runHash"],
  ["gate", "runId", "attemptToken", "now", "leaseMs"],
  `
local f = redis.call('HMGET', runHash, 'status', 'attemptToken', 'namespace', 'reason')
if f[2] ~= attemptToken then return {'lost', ''} end
local slots = gate .. 'slots:' .. f[3]
redis.call('ZADD', slots, 'XX', string.format('%.0f', tonumber(now) + tonumber(leaseMs)), runId)
redis.call('PEXPIRE', slots, leaseMs)
if f[1] == 'running' then return {'running', ''} end
return {'ended', f[4] or ''}
`,
);

/** An attempt is over (k6 gone): its namespace slot is free, unless another attempt holds the run. */
export const RELEASE = luaCommand(
  "release",
  "free an attempt's namespace slot",
  ["runHash", "namespaceSlots"],
  ["runId", "attemptToken"],
  `
local f = redis.call('HMGET', runHash, 'status', 'attemptToken')
if f[1] == 'running' and f[2] ~= attemptToken then return 0 end
return redis.call('ZREM', namespaceSlots, runId)
`,
);

/** Live output while k6 runs, from the current attempt only. */
export const LIVE_OUTPUT = luaCommand(
  "liveOutput",
  "store a running run's output so far, only from its current attempt",
  ["runHash", "outputKey"],
  ["attemptToken", "output", "ttlMs"],
  `
local f = redis.call('HMGET', runHash, 'status', 'attemptToken')
if f[1] ~= 'running' or f[2] ~= attemptToken then return 0 end
redis.call('SET', outputKey, output, 'PX', ttlMs)
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
  LIVE_OUTPUT,
  K6_PROGRESS,
];
