/**
 * The redis store's scripts. Each runs atomically in Redis, so that several relay servers sharing one
 * Redis never interleave inside an append, a trim or a read. Every key a script touches is passed in
 * KEYS and shares one hash tag, so the scripts also run on Redis Cluster.
 *
 * Keys (P is the hash-tagged prefix, `{relay}` unless the URL says otherwise):
 *   P:meta       hash   app, schema, next (the id the next message gets), first (the oldest kept),
 *                       bytes (text bytes of the messages kept)
 *   P:log        stream one entry per record, id 0-<id of its first message>; fields n (messages),
 *                       ts, f (sender), b (text bytes), p (the packed messages: record-codec)
 *   P:producers  hash   writer id -> the last sequence number stored
 *   P:producers:seen zset writer id -> when it last appended (old ones are forgotten)
 *   P:marks:<writer id> hash  mark key (hex) -> value: the writer's marks (its place in its input)
 *   P:cursors    hash   reader or group -> position
 *   P:clients    hash   role:name -> online(0|1):last seen:topic (no topic in those kept before: the default)
 *   P:name:role:name string the claim on a name: clientAddress|serverToken, expiring (core/server/name-claims.ts)
 *   P:appended   channel the new end of the log, after each append (a sharded channel on a cluster)
 */

/**
 * KEYS: meta, log, producers, seen, channel, then each batch's marks key. ARGV: now, producer TTL ms,
 * batch count, the marks keys' prefix, most marks per writer, the publish command (PUBLISH, or SPUBLISH on
 * a cluster), then per batch: producer id, afterSeq ('' for
 * none), lastSeq, record count, mark count, then per record: n, ts, sender, bytes, payload, then per mark:
 * key, value ('' removes it). Returns per batch its first id or -1 (refused by afterSeq), then next, first,
 * bytes.
 */
export const APPEND = `
local meta, log, producers, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('HGET', meta, 'app') ~= 'udp-relay' then
  return redis.error_reply('RELAYGONE the relay keys are missing from this redis (flushed or restarted empty?)')
end
local now = tonumber(ARGV[1])
local nextId = tonumber(redis.call('HGET', meta, 'next'))
local bytes = tonumber(redis.call('HGET', meta, 'bytes'))
local out = {}
local marksMax = tonumber(ARGV[5])
local i = 7
for b = 1, tonumber(ARGV[3]) do
  local pid, after, last, records, marks = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
  i = i + 5
  local stored = tonumber(redis.call('HGET', producers, pid) or '0')
  if after ~= '' and stored > tonumber(after) then
    out[b] = -1
    i = i + 5 * records + 2 * marks
  else
    out[b] = nextId
    for r = 1, records do
      redis.call('XADD', log, string.format('0-%d', nextId), 'n', ARGV[i], 'ts', ARGV[i + 1], 'f', ARGV[i + 2], 'b', ARGV[i + 3], 'p', ARGV[i + 4])
      nextId = nextId + tonumber(ARGV[i])
      bytes = bytes + tonumber(ARGV[i + 3])
      i = i + 5
    end
    local mk = KEYS[5 + b]
    for m = 1, marks do
      if ARGV[i + 1] == '' then
        redis.call('HDEL', mk, ARGV[i])
      elseif redis.call('HEXISTS', mk, ARGV[i]) == 1 or redis.call('HLEN', mk) < marksMax then
        redis.call('HSET', mk, ARGV[i], ARGV[i + 1])
      end
      i = i + 2
    end
    if last > stored then redis.call('HSET', producers, pid, last) end
    redis.call('ZADD', seen, now, pid)
  end
end
redis.call('HSET', meta, 'next', string.format('%d', nextId), 'bytes', string.format('%d', bytes))
-- Writers silent for longer than the TTL are long gone: forget a few of them each time.
local old = redis.call('ZRANGEBYSCORE', seen, '-inf', now - tonumber(ARGV[2]), 'LIMIT', 0, 16)
for _, pid in ipairs(old) do
  redis.call('HDEL', producers, pid)
  redis.call('ZREM', seen, pid)
  -- Its marks key shares the hash tag (one slot on a cluster).
  redis.call('DEL', ARGV[4] .. pid)
end
redis.call(ARGV[6], KEYS[5], string.format('%d', nextId))
table.insert(out, nextId)
table.insert(out, tonumber(redis.call('HGET', meta, 'first')))
table.insert(out, bytes)
return out
`;

/**
 * KEYS: meta, log. ARGV: from, most records. The records from the one holding max(from, first) on.
 * Returns { first, next, entries } with entries as XRANGE gives them.
 */
export const READ = `
local meta, log = KEYS[1], KEYS[2]
local first = tonumber(redis.call('HGET', meta, 'first') or '1')
local nextId = tonumber(redis.call('HGET', meta, 'next') or '1')
local start = math.max(tonumber(ARGV[1]), first)
local entries = {}
if start < nextId then
  local head = redis.call('XREVRANGE', log, string.format('0-%d', start), '-', 'COUNT', 1)
  if head[1] then table.insert(entries, head[1]) end
  local rest = redis.call('XRANGE', log, string.format('(0-%d', start), '+', 'COUNT', tonumber(ARGV[2]))
  for _, e in ipairs(rest) do table.insert(entries, e) end
end
return { first, nextId, entries }
`;

/**
 * KEYS: meta, log. ARGV: the first id the trim was computed from, the new first id, the text bytes of
 * the messages it removes. Applied only if no other server trimmed meanwhile (returns 0 then).
 */
export const TRIM = `
local meta, log = KEYS[1], KEYS[2]
if tonumber(redis.call('HGET', meta, 'first')) ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', meta, 'first', ARGV[2])
redis.call('HINCRBY', meta, 'bytes', -tonumber(ARGV[3]))
-- Entries wholly below the new first go; the one holding it stays.
local head = redis.call('XREVRANGE', log, string.format('0-%d', tonumber(ARGV[2])), '-', 'COUNT', 1)
if head[1] then redis.call('XTRIM', log, 'MINID', head[1][1]) end
return 1
`;

/** The client part of a holder (clientAddress|serverToken): what stays the same when a client moves server. */
const CLIENT_OF = `local function client(h) return string.match(h, '^(.*)|[^|]*$') or h end`;

/** KEYS: the claim. ARGV: holder, ttl ms, force (1/0). Returns {1, 0}, or {0, ms the other holder has left}. */
export const CLAIM = `
${CLIENT_OF}
local cur = redis.call('GET', KEYS[1])
if cur and ARGV[3] ~= '1' and client(cur) ~= client(ARGV[1]) then
  return { 0, redis.call('PTTL', KEYS[1]) }
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return { 1, 0 }
`;

/** KEYS: claims. ARGV: ttl ms, then each claim's holder. Renews those still held; returns the others' indexes (1-based). */
export const RENEW = `
local lost = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
  else
    table.insert(lost, i)
  end
end
return lost
`;

/** KEYS: the claim. ARGV: holder. Gives it back if the holder still has it. */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

/** KEYS: clients, cursors. ARGV: seen before (ms). Forgets clients offline since before then; returns how many. */
export const FORGET = `
local all = redis.call('HGETALL', KEYS[1])
local n = 0
for i = 1, #all, 2 do
  local online, seen = string.match(all[i + 1], '^(%d):(%d+)')
  if online == '0' and tonumber(seen) < tonumber(ARGV[1]) then
    redis.call('HDEL', KEYS[1], all[i])
    local role, name = string.match(all[i], '^([^:]*):(.*)$')
    if role == 'reader' then redis.call('HDEL', KEYS[2], name) end
    n = n + 1
  end
end
return n
`;

/** KEYS: a writer's marks. Returns them flat: key, value, key, value… */
export const MARKS = `return redis.call('HGETALL', KEYS[1])`;

/** KEYS: meta. Creates the relay's keys in an empty redis; says what is there otherwise. */
export const INIT = `
local meta = KEYS[1]
if redis.call('EXISTS', meta) == 0 then
  redis.call('HSET', meta, 'app', 'udp-relay', 'schema', ARGV[1], 'next', 1, 'first', 1, 'bytes', 0)
end
return { redis.call('HGET', meta, 'app') or '', redis.call('HGET', meta, 'schema') or '' }
`;
