import { LuaScript } from "./lua-script.js";

/**
 * The tier's state in Redis, every key under one prefix (ARGV[1]):
 *   clock          the logical clock, bumped by every invalidation
 *   global         the clock at the last flush: entries of loads that began before it are invalid
 *   run            the run id of the Redis server whose state this is (a restart is a flush)
 *   cover          sorted set: instance id -> until when its change source covers (ms)
 *   m:<tag>        the clock at the tag's last invalidation (expires after the longest entry or load)
 *   e:<key hash>   entry hash: v (value bytes), t (tags, JSON), c (the clock its load began at)
 *   s:<tag>        sorted set of entry keys carrying the tag, scored by their expiry (bounded)
 */

const NOW = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * A lookup and, in the same atomic step, a load token (what BEGIN_LOAD returns): the engine asks
 * for both at once, and a miss then costs one round trip. ARGV: prefix, key hash, run.
 * Returns {1, clock, run, now, value, tags} on a hit, {0, clock, run, now} on a miss, {0} on a
 * miss when the state is not initialised (no token: the load does not fill).
 */
export const GET = new LuaScript(`${NOW}
local p = ARGV[1]
local run = redis.call('GET', p .. 'run')
if not run then return {0} end
local clock = tonumber(redis.call('GET', p .. 'clock') or '0')
local now = now_ms()
local miss = {0, clock, run, now}
local ek = p .. 'e:' .. ARGV[2]
local e = redis.call('HMGET', ek, 'v', 't', 'c')
if not e[1] then return miss end
if run ~= ARGV[3] then return miss end
-- Served only while some instance's change source covers the time since the fill.
if redis.call('ZCOUNT', p .. 'cover', now, '+inf') == 0 then return miss end
local c = tonumber(e[3])
if c < tonumber(redis.call('GET', p .. 'global') or '0') then
  redis.call('DEL', ek)
  return miss
end
for _, tag in ipairs(cjson.decode(e[2])) do
  local m = redis.call('GET', p .. 'm:' .. tag)
  if m and tonumber(m) > c then
    redis.call('DEL', ek)
    return miss
  end
end
return {1, clock, run, now, e[1], e[2]}
`);

/** ARGV: prefix. Returns {clock, run, now} or nil when the state is not initialised. */
export const BEGIN_LOAD = new LuaScript(`${NOW}
local p = ARGV[1]
local run = redis.call('GET', p .. 'run')
if not run then return false end
return {tonumber(redis.call('GET', p .. 'clock') or '0'), run, now_ms()}
`);

/**
 * The fill guard across instances: store only if nothing the entry depends on was invalidated
 * after the load began (token), in the same atomic step as the check.
 * ARGV: prefix, key hash, run, token clock, token time, max load ms, ttl, value, tags JSON,
 * max members per tag set, tags... Returns 1 stored, or why not: 0 another run, -1 token too old,
 * -2 flushed since, -3 nobody covers, -4 a tag was invalidated since.
 */
export const FILL = new LuaScript(`${NOW}
local p = ARGV[1]
if redis.call('GET', p .. 'run') ~= ARGV[3] then return 0 end
local tok = tonumber(ARGV[4])
local now = now_ms()
-- Marks expire: a load older than they live could miss one.
if now - tonumber(ARGV[5]) > tonumber(ARGV[6]) then return -1 end
if tonumber(redis.call('GET', p .. 'global') or '0') > tok then return -2 end
if redis.call('ZCOUNT', p .. 'cover', now, '+inf') == 0 then return -3 end
for i = 11, #ARGV do
  local m = redis.call('GET', p .. 'm:' .. ARGV[i])
  if m and tonumber(m) > tok then return -4 end
end
local ttl = tonumber(ARGV[7])
local expires = now + ttl
local ek = p .. 'e:' .. ARGV[2]
redis.call('DEL', ek)
redis.call('HSET', ek, 'v', ARGV[8], 't', ARGV[9], 'c', tok)
redis.call('PEXPIRE', ek, ttl)
local max = tonumber(ARGV[10])
for i = 11, #ARGV do
  local s = p .. 's:' .. ARGV[i]
  -- Tag sets hold live entries only, and at most max of them (the oldest go, entry and all).
  redis.call('ZREMRANGEBYSCORE', s, '-inf', now)
  redis.call('ZADD', s, expires, ek)
  if redis.call('PTTL', s) < ttl then redis.call('PEXPIRE', s, ttl) end
  local over = redis.call('ZCARD', s) - max
  if over > 0 then
    local old = redis.call('ZPOPMIN', s, over)
    for j = 1, #old, 2 do redis.call('DEL', old[j]) end
  end
end
return 1
`);

/** Idempotent: bump the clock, mark the tags, drop their entries. ARGV: prefix, mark ttl, tags... */
export const INVALIDATE = new LuaScript(`
local p = ARGV[1]
local c = redis.call('INCR', p .. 'clock')
for i = 3, #ARGV do
  redis.call('SET', p .. 'm:' .. ARGV[i], c, 'PX', ARGV[2])
  local s = p .. 's:' .. ARGV[i]
  local members = redis.call('ZRANGE', s, 0, -1)
  for j = 1, #members, 500 do
    redis.call('DEL', unpack(members, j, math.min(j + 499, #members)))
  end
  redis.call('DEL', s)
end
return c
`);

/** Everything filled before now is invalid (entries go lazily or by TTL). ARGV: prefix. */
export const FLUSH = new LuaScript(`
local p = ARGV[1]
local c = redis.call('INCR', p .. 'clock')
redis.call('SET', p .. 'global', c)
return c
`);

/**
 * After (re)connecting: a Redis whose run id is not the one its state was written under was
 * restarted (its marks are gone, or older than what happened since): a flush. So is a connection
 * that failed to apply an invalidation. ARGV: prefix, run id, "1" to flush anyway. Returns 1 if flushed.
 */
export const RECOVER = new LuaScript(`
local p = ARGV[1]
if redis.call('GET', p .. 'run') ~= ARGV[2] or ARGV[3] == '1' then
  redis.call('SET', p .. 'run', ARGV[2])
  local c = redis.call('INCR', p .. 'clock')
  redis.call('SET', p .. 'global', c)
  return 1
end
return 0
`);

/**
 * A live change source's heartbeat. When nobody covered until now, the tier is flushed first
 * (a new coverage epoch): what was filled before may have missed changes.
 * ARGV: prefix, instance id, coverage ms. Returns 1 if a new epoch began.
 */
export const COVER = new LuaScript(`${NOW}
local p = ARGV[1]
local cover = p .. 'cover'
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', cover, '-inf', now)
local bumped = 0
if redis.call('ZCARD', cover) == 0 then
  local c = redis.call('INCR', p .. 'clock')
  redis.call('SET', p .. 'global', c)
  bumped = 1
end
redis.call('ZADD', cover, now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', cover, 2 * tonumber(ARGV[3]))
return bumped
`);

/** This instance's source stopped covering. ARGV: prefix, instance id. */
export const UNCOVER = new LuaScript(`
redis.call('ZREM', ARGV[1] .. 'cover', ARGV[2])
return 1
`);

export const ALL_SCRIPTS: readonly LuaScript[] = [
  GET,
  BEGIN_LOAD,
  FILL,
  INVALIDATE,
  FLUSH,
  RECOVER,
  COVER,
  UNCOVER,
];
