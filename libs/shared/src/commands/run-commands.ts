import { luaCommand } from "./lua-command";

/**
 * The scripts behind RunStore. Each decision that must hold across API replicas and
 * workers happens inside one script, so Redis runs it atomically; each returns the record
 * it wrote, so no caller reads it back. `gate` is the key prefix (`<QUEUE_PREFIX>:gate:`).
 * `#!lua` makes Redis refuse a script whole when it is out of memory, rather than fail it
 * half-way through its writes.
 */

/** Design §3's four-step rule for one run key, plus the backlog check. */
export const DECIDE = luaCommand(
  "decide",
  "attach, deliver, recent failure, busy, or create a queued run (and store its spec)",
  ["keyHash", "queuedSet", "canaryRuns", "canaries"],
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
  ],
  `
local function record(id) return redis.call('HGETALL', gate .. 'run:' .. id) end
local current = redis.call('HGET', keyHash, 'current')
if current then
  local status = redis.call('HGET', gate .. 'run:' .. current, 'status')
  if status == 'queued' or status == 'running' then return {'attach', record(current)} end
end
local latest = redis.call('HGET', keyHash, 'latest')
if latest then
  local f = redis.call('HMGET', gate .. 'run:' .. latest, 'status', 'delivered', 'verdict', 'finishedAt')
  if f[1] == 'finished' then
    if f[2] ~= '1' then return {'deliver', record(latest)} end
    if f[3] == 'fail' and tonumber(f[4]) + tonumber(minFailureDelayMs) > tonumber(now) then
      return {'recent_failure', record(latest)}
    end
  end
end
if redis.call('SCARD', queuedSet) >= tonumber(maxQueueDepth) then return {'busy', {}} end
local seq = redis.call('HINCRBY', keyHash, 'seq', 1)
local id = runKey .. '-' .. seq
local run = gate .. 'run:' .. id
for field, value in pairs(cjson.decode(identity)) do redis.call('HSET', run, field, value) end
redis.call('HSET', run, 'id', id, 'status', 'queued', 'attempt', 0,
  'enqueuedAt', now, 'delivered', '0', 'slackChannels', slackChannels, 'warnings', warnings)
redis.call('PEXPIRE', run, ttlMs)
redis.call('SET', gate .. 'spec:' .. id, spec, 'PX', ttlMs)
redis.call('HSET', keyHash, 'current', id, 'latest', id)
redis.call('PEXPIRE', keyHash, ttlMs)
redis.call('SADD', queuedSet, id)
redis.call('ZADD', canaryRuns, now, id)
redis.call('ZADD', canaries, now, canaryId)
return {'created', record(id)}
`,
);

/** A worker takes a run up: it becomes this attempt's, fenced by `attemptToken`. */
export const START = luaCommand(
  "start",
  "mark a run running under a new attempt; 'finished' or 'missing' when it must not run",
  ["runHash", "queuedSet", "runningSet"],
  ["runId", "now", "attempt", "worker", "attemptToken"],
  `
local status = redis.call('HGET', runHash, 'status')
if not status then return {'missing', {}} end
if status == 'finished' then return {'finished', {}} end
redis.call('HSET', runHash, 'status', 'running', 'startedAt', now, 'attempt', attempt,
  'worker', worker, 'attemptToken', attemptToken)
redis.call('SREM', queuedSet, runId)
redis.call('SADD', runningSet, runId)
return {'started', redis.call('HGETALL', runHash)}
`,
);

/** A run handed back by its (current) attempt waits in the queue again. */
export const REQUEUE = luaCommand(
  "requeue",
  "put a running run back to queued, only from its current attempt",
  ["runHash", "queuedSet", "runningSet"],
  ["runId", "attemptToken"],
  `
local f = redis.call('HMGET', runHash, 'status', 'attemptToken')
if f[1] ~= 'running' or f[2] ~= attemptToken then return 0 end
redis.call('HSET', runHash, 'status', 'queued')
redis.call('HDEL', runHash, 'startedAt', 'worker', 'attemptToken')
redis.call('SREM', runningSet, runId)
redis.call('SADD', queuedSet, runId)
return 1
`,
);

/**
 * Records a verdict (and the output) once, from the current attempt only: a stale attempt
 * (its worker froze past its lock and another took the run up) is refused, before or after
 * the current one finished (the token of the attempt that ran last stays on the record).
 * An empty `attemptToken` ends the run whatever attempt holds it: for runs whose job is gone.
 */
export const FINISH = luaCommand(
  "finish",
  "record the verdict from the current attempt, wake every long-poll",
  ["runHash", "queuedSet", "runningSet", "outputKey", "specKey", "recentDurations"],
  [
    "gate",
    "runId",
    "attemptToken",
    "finishedAt",
    "verdict",
    "outcome",
    "reason",
    "result",
    "cloudUrl",
    "output",
    "writeOutput",
    "ttlMs",
    "durationMs",
    "channel",
  ],
  `
local f = redis.call('HMGET', runHash, 'status', 'attemptToken', 'runKey')
if not f[1] then return {'missing', {}} end
if attemptToken ~= '' and f[2] ~= attemptToken then
  return {'stale', redis.call('HGETALL', runHash)}
end
if f[1] == 'finished' then return {'already', redis.call('HGETALL', runHash)} end
redis.call('HSET', runHash, 'status', 'finished', 'finishedAt', finishedAt, 'verdict', verdict,
  'outcome', outcome, 'reason', reason, 'result', result, 'cloudUrl', cloudUrl)
local keyHash = gate .. 'key:' .. f[3]
if redis.call('HGET', keyHash, 'current') == runId then redis.call('HDEL', keyHash, 'current') end
redis.call('SREM', queuedSet, runId)
redis.call('SREM', runningSet, runId)
if writeOutput == '1' then redis.call('SET', outputKey, output, 'PX', ttlMs) end
redis.call('DEL', specKey)
redis.call('LPUSH', recentDurations, durationMs)
redis.call('LTRIM', recentDurations, 0, 19)
redis.call('PUBLISH', channel, runId)
return {'recorded', redis.call('HGETALL', runHash)}
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

export const RUN_COMMANDS = [DECIDE, START, REQUEUE, FINISH, LIVE_OUTPUT];
