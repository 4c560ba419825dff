-- Shared prelude of every queue script: the store prepends it to each script body
-- before registering it, so every operation is still one self-contained script.
--
-- KEYS (all carry the concert's hash tag {concert:ID}, so one Cluster slot):
--   1 meta    hash   seq (issue counter), adm (admission record counter), open (the
--                    seed the line was shuffled with at its opening; once set, the
--                    key is kept for good: the line opens once)
--   2 tok     hash   token id (16 bytes) -> packed token (see encode)
--   3 live    hash   user id (16 bytes)  -> token id of the user's live token
--   4 line    zset   WAITING token ids, score = slot: the sequence, or for a token
--                    pre-queued before the opening the place it was dealt (open.lua)
--   5 idle    zset   WAITING token ids, score = idle deadline (last_seen + idle timeout)
--   6 active  zset   ACTIVE token ids, score = ends_at (the later of active_until and
--                    held_until)
--   7 adm     zset   admission passes "<n>:<count>", score = when (us)
--   8 ended   list   8-byte end time .. token id, oldest first (prunes ended records)
--
-- ARGV (every time is an integer number of microseconds since the epoch; integers
-- below 2^53 are exact in Lua's doubles; every rule is judged by NOW, never TIME):
--   1 now  2 idle timeout  3 active ttl  4 admission-rate window
--   5 key ttl in ms (garbage collection only)  6 how long ended records are kept
--   7 the most tokens one script may end  8.. the operation's own arguments

local META, TOK, LIVE, LINE = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local IDLE, ACTIVE, ADM, ENDED = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local NOW = tonumber(ARGV[1])
local IDLE_FOR = tonumber(ARGV[2])
local ACTIVE_FOR = tonumber(ARGV[3])
local WINDOW = tonumber(ARGV[4])
local KEY_TTL = tonumber(ARGV[5])
local ENDED_FOR = tonumber(ARGV[6])
local BATCH = tonumber(ARGV[7])
local MINUTE = 60000000

-- A number as Redis must read it: Lua's own tostring keeps only 14 digits.
local function num(x)
  return string.format('%d', x)
end

-- A token: user id (16 bytes) .. seq, issued_at, last_seen_at (3 big-endian doubles)
-- .. status ('W', 'A' or 'E') [.. active_until (a double), once admitted
-- [.. held_until (a double), once a hold kept it]]. Waiting tokens take 41 bytes.
local function decode(v)
  local seq, issued, seen = struct.unpack('>ddd', v, 17)
  local t = {
    uid = string.sub(v, 1, 16), seq = seq, issued = issued, seen = seen,
    status = string.sub(v, 41, 41),
  }
  if #v > 41 then
    t.till = struct.unpack('>d', v, 42)
  end
  if #v > 49 then
    t.held = struct.unpack('>d', v, 50)
  end
  return t
end

local function encode(t)
  local v = t.uid .. struct.pack('>ddd', t.seq, t.issued, t.seen) .. t.status
  if t.till then
    v = v .. struct.pack('>d', t.till)
    if t.held then
      v = v .. struct.pack('>d', t.held)
    end
  end
  return v
end

-- When an admitted token's turn ends: its base end, or its holds' if later.
local function ends_at(t)
  if t.held and t.held > t.till then
    return t.held
  end
  return t.till
end

local function load(tid)
  local v = redis.call('HGET', TOK, tid)
  if not v then
    return nil
  end
  return decode(v)
end

local function store(tid, t)
  redis.call('HSET', TOK, tid, encode(t))
end

-- The token's state at NOW, lapses included (QueueToken.status_at).
local function status_at(t)
  if t.status == 'A' then
    if NOW < ends_at(t) then
      return 'A'
    end
    return 'E'
  elseif t.status == 'W' then
    if NOW - t.seen >= IDLE_FOR then
      return 'E'
    end
    return 'W'
  end
  return 'E'
end

-- Take a live token out of the line or the active set and mark it EXPIRED.
local function finish(tid, t)
  if t.status == 'W' then
    redis.call('ZREM', LINE, tid)
    redis.call('ZREM', IDLE, tid)
  elseif t.status == 'A' then
    redis.call('ZREM', ACTIVE, tid)
  end
  if redis.call('HGET', LIVE, t.uid) == tid then
    redis.call('HDEL', LIVE, t.uid)
  end
  t.status = 'E'
  store(tid, t)
  redis.call('RPUSH', ENDED, struct.pack('>d', NOW) .. tid)
end

-- Apply time: a lapsed token is ended now. Returns its status at NOW.
local function settle(tid, t)
  local status = status_at(t)
  if status == 'E' and t.status ~= 'E' then
    finish(tid, t)
  end
  return status
end

-- Record a sighting of a WAITING token: its idle deadline moves on.
local function see(tid, t)
  if NOW > t.seen then
    t.seen = NOW
    store(tid, t)
    redis.call('ZADD', IDLE, num(t.seen + IDLE_FOR), tid)
  end
end

local function position(tid)
  local rank = redis.call('ZRANK', LINE, tid)
  if rank then
    return rank + 1
  end
  return -1
end

-- Tokens admitted after `since` (within the records kept: at least a minute and the
-- rate window).
local function admitted_since(since)
  local sum = 0
  for _, record in ipairs(redis.call('ZRANGEBYSCORE', ADM, '(' .. num(since), '+inf')) do
    sum = sum + tonumber(string.match(record, ':(%d+)$'))
  end
  return sum
end

-- Tokens admitted within the window before NOW (the caller divides by the window).
local function admitted_recently()
  return admitted_since(NOW - WINDOW)
end

-- One reply row for a token as it is in `t`: its id and packed state.
local function row(tid, t)
  return tid .. encode(t)
end

-- End up to `limit` tokens whose score in `set` (ACTIVE: ends_at, IDLE: the idle
-- deadline) is at or before NOW; append them to `out` as they were just before.
-- An entry that does not match its token (which the scripts never leave) is repaired.
local function end_lapsed(set, status, limit, out)
  if limit <= 0 then
    return
  end
  local ids = redis.call('ZRANGEBYSCORE', set, '-inf', num(NOW), 'LIMIT', 0, limit)
  for _, tid in ipairs(ids) do
    local t = load(tid)
    if t == nil or t.status ~= status then
      redis.call('ZREM', set, tid)
    else
      local before = row(tid, t)
      if settle(tid, t) == 'E' then
        out[#out + 1] = before
      elseif status == 'A' then
        redis.call('ZADD', set, num(ends_at(t)), tid)
      else
        redis.call('ZADD', set, num(t.seen + IDLE_FOR), tid)
      end
    end
  end
end

local function lapsed_remain()
  return #redis.call('ZRANGEBYSCORE', ACTIVE, '-inf', num(NOW), 'LIMIT', 0, 1) > 0
    or #redis.call('ZRANGEBYSCORE', IDLE, '-inf', num(NOW), 'LIMIT', 0, 1) > 0
end

-- Forget up to `limit` records of tokens that ended ENDED_FOR or more before NOW.
local function prune_ended(limit)
  for _ = 1, limit do
    local entry = redis.call('LINDEX', ENDED, 0)
    if not entry then
      return
    end
    if NOW - struct.unpack('>d', entry) < ENDED_FOR then
      return
    end
    redis.call('LPOP', ENDED)
    local tid = string.sub(entry, 9)
    local v = redis.call('HGET', TOK, tid)
    if v and string.sub(v, 41, 41) == 'E' then
      redis.call('HDEL', TOK, tid)
    end
  end
end

-- Garbage collection only: keep every key of the concert at least KEY_TTL ms past
-- this write (refreshed once the remaining time has fallen by a minute). META, the
-- sequence, is kept two minutes longer than the rest, so it never restarts while a
-- token it numbered is still stored; once the line has opened it is kept for good
-- (open.lua makes it persistent), as the seed decides that the line opens once.
local function keep()
  for _, key in ipairs(KEYS) do
    local want = KEY_TTL
    if key == META then
      want = KEY_TTL + 120000
    end
    local ttl = redis.call('PTTL', key)
    if ttl ~= -2 and ttl < want - 60000 then
      if not (key == META and ttl == -1 and redis.call('HEXISTS', META, 'open') == 1) then
        redis.call('PEXPIRE', key, num(want))
      end
    end
  end
end

-- One item of a shared call (see the scripts that take several): its reply, or an
-- error reply for that item alone if it fails (the items before it stand, as they
-- would have as separate calls).
local function each(fn, ...)
  local ok, reply = pcall(fn, ...)
  if ok then
    return reply
  end
  return {err = tostring(reply)}
end
