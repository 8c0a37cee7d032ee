import { luaCommand } from "./lua-command";
import { KEEP_OUTPUT, OWNER_OF, REORDER } from "./lua-parts";

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
  ["prefix", "runId", "now", "worker", "attemptToken", "maxRunsPerOwner", "leaseMs"],
  `${OWNER_OF}${REORDER}
local f = redis.call('HMGET', runHash, 'status', 'owner', 'namespace')
if not f[1] then return {'missing', {}} end
if f[1] == 'finished' then return {'finished', {}} end
local owned = gateKey.ownerKeys(ownerOf(f[2], f[3]))
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
  ["prefix", "runId", "attemptToken", "now"],
  `${OWNER_OF}${REORDER}
local f = redis.call('HMGET', runHash, 'status', 'attemptToken', 'owner', 'namespace', 'arrival')
if f[1] ~= 'running' or f[2] ~= attemptToken then return 0 end
local owned = gateKey.ownerKeys(ownerOf(f[3], f[4]))
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
    "prefix",
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
    "maxOutputBytes",
  ],
  `${OWNER_OF}${REORDER}${KEEP_OUTPUT}
local f = redis.call('HMGET', runHash, 'status', 'attemptToken', 'runKey', 'namespace', 'name',
  'outcome', 'owner')
if not f[1] then return {'missing', {}} end
if attemptToken ~= '' and f[2] ~= attemptToken then
  return {'stale', redis.call('HGETALL', runHash)}
end
if f[1] == 'finished' then
  if attemptToken ~= '' and writeOutput == '1' and (f[6] == 'superseded' or f[6] == 'cancelled') then
    keepOutput(gateKey.ownerKeys(ownerOf(f[7], f[4])), runId, outputKey, output)
  end
  return {'already', redis.call('HGETALL', runHash)}
end
redis.call('HSET', runHash, 'status', 'finished', 'finishedAt', finishedAt, 'verdict', verdict,
  'outcome', outcome, 'reason', reason, 'result', result, 'figures', figures, 'cloudUrl', cloudUrl)
local keyHash = gateKey.runKey(f[3])
if redis.call('HGET', keyHash, 'current') == runId then redis.call('HDEL', keyHash, 'current') end
local owned = gateKey.ownerKeys(ownerOf(f[7], f[4]))
redis.call('SREM', queuedSet, runId)
redis.call('SREM', runningSet, runId)
redis.call('ZREM', queueOrder, runId)
redis.call('ZREM', owned.queued, runId)
if attemptToken ~= '' then redis.call('ZREM', owned.slots, runId) end
redis.call('SREM', gateKey.canaryInFlight(f[4] .. '/' .. f[5]), runId)
if writeOutput == '1' then keepOutput(owned, runId, outputKey, output) end
redis.call('DEL', specKey)
redis.call('LPUSH', recentDurations, durationMs)
redis.call('LTRIM', recentDurations, 0, 19)
reorder(owned, finishedAt)
redis.call('PUBLISH', gateKey.finishedChannel, runId)
return {'recorded', redis.call('HGETALL', runHash)}
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
  ["prefix", "runId", "attemptToken", "now", "leaseMs"],
  `${OWNER_OF}
local f = redis.call('HMGET', runHash, 'status', 'attemptToken', 'namespace', 'reason', 'owner')
if f[2] ~= attemptToken then return {'lost', ''} end
local slots = gateKey.ownerKeys(ownerOf(f[5], f[3])).slots
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
  ["prefix", "runId", "attemptToken", "now"],
  `${OWNER_OF}${REORDER}
local f = redis.call('HMGET', runHash, 'status', 'attemptToken', 'owner', 'namespace')
if not f[1] or (f[1] == 'running' and f[2] ~= attemptToken) then return 0 end
local owned = gateKey.ownerKeys(ownerOf(f[3], f[4]))
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
  ["prefix", "runId", "now"],
  `${OWNER_OF}${REORDER}
local f = redis.call('HMGET', runHash, 'status', 'owner', 'namespace', 'arrival')
if f[1] ~= 'queued' or not f[4] then return 0 end
local owned = gateKey.ownerKeys(ownerOf(f[2], f[3]))
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
  ["prefix", "runId", "attemptToken", "output", "ttlMs", "maxOutputBytes"],
  `${OWNER_OF}${KEEP_OUTPUT}
local f = redis.call('HMGET', runHash, 'status', 'attemptToken', 'owner', 'namespace')
if f[1] ~= 'running' or f[2] ~= attemptToken then return 0 end
keepOutput(gateKey.ownerKeys(ownerOf(f[3], f[4])), runId, outputKey, output)
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

export const ATTEMPT_COMMANDS = [
  START,
  REQUEUE,
  FINISH,
  HEARTBEAT,
  RELEASE,
  PLACE,
  LIVE_OUTPUT,
  K6_PROGRESS,
];
