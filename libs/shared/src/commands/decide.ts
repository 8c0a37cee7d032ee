import { luaCommand } from "./lua-command";
import { END_EARLY, QUOTAS, SCRIPT_USES } from "./lua-parts";

/**
 * The scripts behind RunStore (this one, attempt-commands.ts, ending-commands.ts). Each
 * decision that must hold across API replicas and workers happens inside one script, so
 * Redis runs it atomically; each returns the record it wrote, so no caller reads it back.
 * `#!lua` makes Redis refuse a script whole when it is out of memory, rather than fail it
 * half-way through its writes.
 *
 * Every key a caller can name is declared in KEYS. The others are built inside a script
 * with `gateKey` (store/keys.ts, the one key layout) from what the script reads: the
 * records of runs whose ids it finds in an index (the run a key has in flight, the runs a
 * new revision supersedes, the new run's id from its key's counter), and a run's
 * namespace, canary and run key from its record, where the caller has only the run id,
 * and a run's owner's indexes from its `owner`. Redis Cluster runs them: every key starts
 * with QUEUE_PREFIX, whose hash tag puts them all in one slot, and Redis 7 refuses only an
 * undeclared key of another slot (decision 10). `queueOrder` holds every queued run by
 * (priority, arrival): the order BullMQ takes them in, so a run's rank in it is its place
 * in the queue. The same scores are written into BullMQ's own `prioritized` ZSET
 * (`bullPrioritized`) by REORDER.
 */

/**
 * The four-step rule for one run key (docs/architecture.md, section 3), plus the backlog
 * check. A created run supersedes the canary's queued and running runs of the same phase
 * for other revisions (unless this call or that run said `supersede: "false"`), recording
 * on each who called
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
    "prefix",
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
    "scriptDigest",
    "maxCanaries",
    "maxScripts",
    "waiter",
    "waitLeaseMs",
  ],
  `${END_EARLY}${QUOTAS}${SCRIPT_USES}
local function record(id) return redis.call('HGETALL', gateKey.run(id)) end
-- The caller will long-poll this run: it is waited on (only the run's own key, from its id).
local function holdWaited(id)
  if waiter == '' then return end
  local waited = gateKey.waited(id)
  redis.call('ZADD', waited, tonumber(now) + tonumber(waitLeaseMs), waiter)
  redis.call('PEXPIRE', waited, waitLeaseMs)
end
local current = redis.call('HGET', keyHash, 'current')
if current then
  local status = redis.call('HGET', gateKey.run(current), 'status')
  if status == 'queued' or status == 'running' then
    holdWaited(current)
    return {'attach', record(current), {}}
  end
end
local latest = redis.call('HGET', keyHash, 'latest')
if latest then
  local f = redis.call('HMGET', gateKey.run(latest), 'status', 'delivered', 'verdict', 'finishedAt',
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
while redis.call('EXISTS', gateKey.run(id), gateKey.job(id)) > 0 do
  seq = redis.call('HINCRBY', keyHash, 'seq', 1)
  id = runKey .. '-' .. seq
end
-- Supersede: this canary's runs of this phase for another revision end now, unless a call
-- waits on them (Flagger never does while it calls for a new revision: decision 41).
local superseded = {}
for _, other in ipairs(redis.call('SMEMBERS', canaryInFlight)) do
  local f = redis.call('HMGET', gateKey.run(other), 'status', 'phase', 'checksum', 'supersede')
  if f[1] ~= 'queued' and f[1] ~= 'running' then
    redis.call('SREM', canaryInFlight, other)
  elseif supersede == '1' and f[4] ~= '0' and f[2] == fields.phase and f[3] ~= fields.checksum
    and redis.call('ZCOUNT', gateKey.waited(other), now, '+inf') == 0 then
    -- A run of this canary: only its own keys are built from its id (its owner's, in endEarly).
    local at = {run = gateKey.run(other), spec = gateKey.spec(other),
      canaryInFlight = canaryInFlight}
    local by = {'supersededBy', id, 'supersededByToken', callerToken,
      'supersededByAddress', callerAddress}
    local was = endEarly(other, at, 'superseded', supersededReason, supersededResult, by)
    table.insert(superseded, other)
    table.insert(superseded, was)
  end
end
local arrival = redis.call('INCR', bullCounter) % 4294967296
local run = gateKey.run(id)
for field, value in pairs(fields) do redis.call('HSET', run, field, value) end
redis.call('HSET', run, 'id', id, 'status', 'queued', 'attempt', 0, 'owner', owner,
  'enqueuedAt', now, 'delivered', '0', 'slackChannels', slackChannels, 'warnings', warnings,
  'arrival', arrival, 'supersede', supersede, 'scriptDigest', scriptDigest)
redis.call('PEXPIRE', run, ttlMs)
redis.call('SET', gateKey.spec(id), spec, 'PX', ttlMs)
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
useScript(gateKey.ownerKeys(owner), scriptDigest)
holdWaited(id)
return {'created', record(id), superseded}
`,
);
