/**
 * Lua scripts behind RunStore. Each decision that must hold across API replicas and
 * workers happens inside one script, so Redis runs it atomically.
 */

/**
 * The four-step rule of design §3 for one run key, plus the backlog check.
 * KEYS: key hash, queued set, canary runs zset, canaries zset.
 * ARGV: runKey, now, minFailureDelayMs, maxQueueDepth, runPrefix, namespace, name,
 *       checksum, phase, slackChannels JSON, canary id, ttlMs.
 */
export const DECIDE = `
local current = redis.call('HGET', KEYS[1], 'current')
if current then
  local status = redis.call('HGET', ARGV[5] .. current, 'status')
  if status == 'queued' or status == 'running' then
    return {'attach', current}
  end
end
local latest = redis.call('HGET', KEYS[1], 'latest')
if latest then
  local f = redis.call('HMGET', ARGV[5] .. latest, 'status', 'delivered', 'verdict', 'finishedAt')
  if f[1] == 'finished' then
    if f[2] ~= '1' then return {'deliver', latest} end
    if f[3] == 'fail' and tonumber(f[4]) + tonumber(ARGV[3]) > tonumber(ARGV[2]) then
      return {'recent_failure', latest}
    end
  end
end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[4]) then
  return {'busy', ''}
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local id = ARGV[1] .. '-' .. seq
local run = ARGV[5] .. id
redis.call('HSET', run, 'id', id, 'runKey', ARGV[1], 'namespace', ARGV[6], 'name', ARGV[7],
  'checksum', ARGV[8], 'phase', ARGV[9], 'status', 'queued', 'attempt', 0,
  'enqueuedAt', ARGV[2], 'delivered', '0', 'slackChannels', ARGV[10])
redis.call('PEXPIRE', run, ARGV[12])
redis.call('HSET', KEYS[1], 'current', id, 'latest', id)
redis.call('PEXPIRE', KEYS[1], ARGV[12])
redis.call('SADD', KEYS[2], id)
redis.call('ZADD', KEYS[3], ARGV[2], id)
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[11])
return {'created', id}
`;

/** KEYS: run hash, queued set, running set. ARGV: now, attempt, worker, runId. */
export const START = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == 'finished' then return 'finished' end
redis.call('HSET', KEYS[1], 'status', 'running', 'startedAt', ARGV[1], 'attempt', ARGV[2], 'worker', ARGV[3])
redis.call('SREM', KEYS[2], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[4])
return 'started'
`;

/** KEYS: run hash, queued set, running set. ARGV: runId. A run handed back waits in the queue again. */
export const REQUEUE = `
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued')
redis.call('HDEL', KEYS[1], 'startedAt', 'worker')
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`;

/**
 * KEYS: run hash, key hash, queued set, running set.
 * ARGV: finishedAt, verdict, outcome, reason, result JSON, cloudUrl, runId, channel.
 * Only the first finish counts: a run taken up again after a crash cannot flip a verdict.
 */
export const FINISH = `
if redis.call('HGET', KEYS[1], 'status') == 'finished' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'finished', 'finishedAt', ARGV[1], 'verdict', ARGV[2],
  'outcome', ARGV[3], 'reason', ARGV[4], 'result', ARGV[5], 'cloudUrl', ARGV[6])
if redis.call('HGET', KEYS[2], 'current') == ARGV[7] then redis.call('HDEL', KEYS[2], 'current') end
redis.call('SREM', KEYS[3], ARGV[7])
redis.call('SREM', KEYS[4], ARGV[7])
redis.call('PUBLISH', ARGV[8], ARGV[7])
return 1
`;
