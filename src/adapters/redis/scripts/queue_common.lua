-- Shared prelude of every queue script. The store loads it once, as the head of a Redis
-- function library whose functions are the queue scripts, each body run as a function
-- that begins with begin(KEYS, ARGV) (adapters/redis/scripts.py, ScriptLibrary): the
-- prelude's definitions are made once per load, not on every call.
--
-- A token lives at a slot: its sequence number, or for a token pre-queued before the
-- opening the place it was dealt (open.lua). Slots are never reused.
--
-- KEYS (all carry the concert's hash tag {concert:ID}, so one Cluster slot; the
-- layout's keys are named ...:v2:..., so no key of the earlier layout is ever read
-- as one of these):
--   1 meta    hash   seq (issue counter), adm (admission record counter), open (the
--                    seed the line was shuffled with at its opening; once set, the
--                    key is kept for good: the line opens once)
--   2 ids     hash   token ids by bucket: field = 2 bytes folded from the id (see
--                    bucket_of), value = entries of 20 bytes, token id .. slot (u32)
--   3 users   hash   the users' live tokens, bucketed the same way: user id .. slot
--   4 recs    string the tokens' records, R bytes each, the one of slot s at
--                    (s - 1) * R (see encode); a slot never written reads as zeros
--   5 fen     string a Fenwick tree of u32 counters over blocks of BLOCK slots (node
--                    i at bit offset 32 * i; node 0 unused): the WAITING tokens of
--                    each block, so the line before a block is a prefix sum. Its
--                    length is 4 * (cap + 1), cap a power of two (see fen_grow)
--   6 beats   zset   heartbeat buckets: member b (decimal) for the bitmap key
--                    <prefix>beat:<b>, which holds bit s for each WAITING token of slot
--                    s last seen in [b * BEAT, (b + 1) * BEAT); score = no later than
--                    the earliest last_seen among them. Each WAITING token has exactly
--                    one bit, in the bucket of its last_seen
--   7 active  zset   ACTIVE tokens' slots (decimal), score = ends_at (the later of
--                    active_until and held_until)
--   8 adm     zset   admission passes "<n>:<count>", score = when (us)
--   9 ended   list   end time (double) .. slot (u32), oldest first (prunes ended
--                    tokens' ids)
--  10 line    string a bitmap: bit s set for the WAITING token at slot s. A position
--                    is the tree's count of the blocks before the token's, plus the
--                    bits set in its own block up to its slot (BITCOUNT of at most
--                    512 bytes); the front of the line is the first bit set (BITPOS)
--  11 (open and stats only) the meta hash of the earlier layout, read for its seed
--
-- ARGV (every time is an integer number of microseconds since the epoch; integers
-- below 2^53 are exact in Lua's doubles; every rule is judged by NOW, never TIME):
--   1 now  2 idle timeout  3 active ttl  4 admission-rate window
--   5 key ttl in ms (garbage collection only)  6 how long ended records are kept
--   7 the most tokens one script may end  8.. the operation's own arguments

-- Each call's keys and arguments, and what they name (set by begin(), which every
-- queue function runs first: the library is loaded once and its functions are called
-- many times, so nothing here may carry over from one call to the next).
local KEYS, ARGV
local META, IDS, USERS, RECS, FEN, BEATS, ACTIVE, ADM, ENDED, LINE, EARLIER_META, PREFIX
local NOW, IDLE_FOR, ACTIVE_FOR, WINDOW, KEY_TTL, ENDED_FOR, BATCH

local function begin(keys, args)
  KEYS, ARGV = keys, args
  META, IDS, USERS, RECS = keys[1], keys[2], keys[3], keys[4]
  FEN, BEATS, ACTIVE, ADM, ENDED = keys[5], keys[6], keys[7], keys[8], keys[9]
  LINE, EARLIER_META = keys[10], keys[11]
  PREFIX = string.sub(META, 1, -5)
  NOW = tonumber(args[1])
  IDLE_FOR = tonumber(args[2])
  ACTIVE_FOR = tonumber(args[3])
  WINDOW = tonumber(args[4])
  KEY_TTL = tonumber(args[5])
  ENDED_FOR = tonumber(args[6])
  BATCH = tonumber(args[7])
end

local MINUTE = 60000000
local R = 69
local BEAT = 10000000
local ENTRY = 20
local BLOCK = 4096

-- A number as Redis must read it: Lua's own tostring keeps only 14 digits.
local function num(x)
  return string.format('%d', x)
end

-- -- ids and users: 16-byte id -> slot, in buckets of a few dozen entries ------------

-- The bucket of an id: its eight 16-bit words summed, modulo 2^16 (every byte counts,
-- so time-ordered ids spread as well as random ones).
local function bucket_of(id)
  local a, b, c, d, e, f, g, h = struct.unpack('>HHHHHHHH', id)
  return struct.pack('>H', (a + b + c + d + e + f + g + h) % 65536)
end

local function find_entry(blob, id)
  local from = 1
  while true do
    local at = string.find(blob, id, from, true)
    if at == nil then
      return nil
    end
    if (at - 1) % ENTRY == 0 then
      return at
    end
    from = at + 1
  end
end

local function map_get(map, id)
  local blob = redis.call('HGET', map, bucket_of(id))
  if not blob then
    return nil
  end
  local at = find_entry(blob, id)
  if at == nil then
    return nil
  end
  return (struct.unpack('>I4', blob, at + 16))
end

-- Forget id's entry if it names `slot`.
local function map_del(map, id, slot)
  local field = bucket_of(id)
  local blob = redis.call('HGET', map, field)
  if not blob then
    return
  end
  local at = find_entry(blob, id)
  if at == nil or struct.unpack('>I4', blob, at + 16) ~= slot then
    return
  end
  blob = string.sub(blob, 1, at - 1) .. string.sub(blob, at + ENTRY)
  if blob == '' then
    redis.call('HDEL', map, field)
  else
    redis.call('HSET', map, field, blob)
  end
end

-- -- records -----------------------------------------------------------------------

-- A token's record, R = 69 bytes: token id (16) .. user id (16) .. seq (u32) ..
-- status ('W', 'A' or 'E') .. issued_at, last_seen_at, active_until, held_until
-- (big-endian doubles; 0 for an active_until or held_until it does not have).
local STATUSES = {W = true, A = true, E = true}

local function decode(slot, v)
  local seq, status, issued, seen, till, held = struct.unpack('>I4c1dddd', v, 33)
  if not STATUSES[status] then
    error('corrupt token record at slot ' .. num(slot))
  end
  local t = {
    slot = slot, tid = string.sub(v, 1, 16), uid = string.sub(v, 17, 32), seq = seq,
    status = status, issued = issued, seen = seen,
  }
  if till ~= 0 then
    t.till = till
  end
  if held ~= 0 then
    t.held = held
  end
  return t
end

local function encode(t)
  return t.tid .. t.uid .. struct.pack('>I4', t.seq) .. t.status
    .. struct.pack('>dddd', t.issued, t.seen, t.till or 0, t.held or 0)
end

-- The token at `slot`, or nil if none was ever stored there.
local function load(slot)
  local v = redis.call('GETRANGE', RECS, (slot - 1) * R, slot * R - 1)
  if #v < R or string.byte(v, 37) == 0 then
    return nil
  end
  return decode(slot, v)
end

local function store(t)
  redis.call('SETRANGE', RECS, (t.slot - 1) * R, encode(t))
end

-- The token of id `tid`, or nil. The id resolves to a slot, and the record there must
-- carry that same id: an id never resolves to another fan's token.
local function load_token(tid)
  local slot = map_get(IDS, tid)
  if slot == nil then
    return nil
  end
  local t = load(slot)
  if t == nil or t.tid ~= tid then
    return nil
  end
  return t
end

-- -- the line: a bitmap of WAITING slots, and a Fenwick tree of their blocks' counts --

local function block_of(slot)
  return math.floor(slot / BLOCK) + 1
end

local function fen_cap()
  local n = redis.call('STRLEN', FEN)
  if n == 0 then
    return 0
  end
  return n / 4 - 1
end

local function node(i)
  return redis.call('BITFIELD_RO', FEN, 'GET', 'u32', 32 * i)[1]
end

local function fen_add(block, delta)
  local cap = fen_cap()
  local args = {'BITFIELD', FEN}
  local i = block
  while i <= cap do
    args[#args + 1] = 'INCRBY'
    args[#args + 1] = 'u32'
    args[#args + 1] = 32 * i
    args[#args + 1] = delta
    i = i + bit.band(i, -i)
  end
  if #args > 2 then
    redis.call(unpack(args))
  end
end

-- WAITING tokens in blocks 1..block (one call, O(log n)).
local function fen_prefix(block)
  local args = {'BITFIELD_RO', FEN}
  local i = block
  while i > 0 do
    args[#args + 1] = 'GET'
    args[#args + 1] = 'u32'
    args[#args + 1] = 32 * i
    i = i - bit.band(i, -i)
  end
  if #args == 2 then
    return 0
  end
  local sum = 0
  for _, count in ipairs(redis.call(unpack(args))) do
    sum = sum + count
  end
  return sum
end

local function line_join(slot)
  redis.call('SETBIT', LINE, slot, 1)
  fen_add(block_of(slot), 1)
end

local function line_leave(slot)
  redis.call('SETBIT', LINE, slot, 0)
  fen_add(block_of(slot), -1)
end

-- -- heartbeat buckets: WAITING tokens by when they were last seen ------------------

local function beat_of(seen)
  return math.floor(seen / BEAT)
end

local function beat_key(b)
  return PREFIX .. 'beat:' .. num(b)
end

-- Give the WAITING token t its bit in the bucket of its last_seen.
local function beat_join(t)
  local b = beat_of(t.seen)
  local key = beat_key(b)
  redis.call('SETBIT', key, t.slot, 1)
  if redis.call('ZADD', BEATS, 'LT', num(t.seen), num(b)) == 1 then
    redis.call('PEXPIRE', key, num(KEY_TTL))
  end
end

-- Take t's bit out of the bucket of its last_seen (never creating the bitmap).
local function beat_leave(t)
  local key = beat_key(beat_of(t.seen))
  if redis.call('EXISTS', key) == 1 then
    redis.call('SETBIT', key, t.slot, 0)
  end
end

-- -- the rules -----------------------------------------------------------------------

-- When an admitted token's turn ends: its base end, or its holds' if later.
local function ends_at(t)
  if t.held and t.held > t.till then
    return t.held
  end
  return t.till
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

-- Take a WAITING token out of the line (the tree and its heartbeat bucket).
local function leave_line(t)
  line_leave(t.slot)
  beat_leave(t)
end

-- Take a live token out of the line or the active set and mark it EXPIRED.
local function finish(t)
  if t.status == 'W' then
    leave_line(t)
  elseif t.status == 'A' then
    redis.call('ZREM', ACTIVE, num(t.slot))
  end
  map_del(USERS, t.uid, t.slot)
  t.status = 'E'
  store(t)
  redis.call('RPUSH', ENDED, struct.pack('>dI4', NOW, t.slot))
end

-- Apply time: a lapsed token is ended now. Returns its status at NOW.
local function settle(t)
  local status = status_at(t)
  if status == 'E' and t.status ~= 'E' then
    finish(t)
  end
  return status
end

-- Record a sighting of a WAITING token: its last_seen moves on, and its bit to the
-- bucket of now if that is another.
local function see(t)
  if NOW > t.seen then
    local before = beat_of(t.seen)
    if beat_of(NOW) ~= before then
      beat_leave(t)
      t.seen = NOW
      beat_join(t)
    else
      t.seen = NOW
    end
    redis.call('SETRANGE', RECS, (t.slot - 1) * R + 45, struct.pack('>d', NOW))
  end
end

-- WAITING tokens at slots up to t's: the blocks before its own, then its own block's
-- bits up to its slot.
local function position(t)
  local b = block_of(t.slot)
  return fen_prefix(b - 1) + redis.call('BITCOUNT', LINE, (b - 1) * BLOCK, t.slot, 'BIT')
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

-- One reply row for a token as it is in `t`: its record.
local function row(t)
  return encode(t)
end

-- A token's place as look, poll and live_token reply it: {row, status, position (-1
-- unless WAITING), admissions in the rate window}.
local function answer(t, status)
  local pos = -1
  if status == 'W' then
    pos = position(t)
  end
  return {row(t), status, pos, admitted_recently()}
end

-- Garbage collection only: keep every key of the concert at least KEY_TTL ms past
-- this write (refreshed once the remaining time has fallen by a minute; the bucket
-- bitmaps with the beats key). META, the sequence, is kept two minutes longer than
-- the rest, so it never restarts while a token it numbered is still stored; once the
-- line has opened it is kept for good (open.lua makes it persistent), as the seed
-- decides that the line opens once.
local function keep()
  for k = 1, 10 do
    local key = KEYS[k]
    local want = KEY_TTL
    if key == META then
      want = KEY_TTL + 120000
    end
    local ttl = redis.call('PTTL', key)
    if ttl ~= -2 and ttl < want - 60000 then
      if not (key == META and ttl == -1 and redis.call('HEXISTS', META, 'open') == 1) then
        redis.call('PEXPIRE', key, num(want))
        if key == BEATS then
          for _, b in ipairs(redis.call('ZRANGE', BEATS, 0, -1)) do
            redis.call('PEXPIRE', beat_key(tonumber(b)), num(want))
          end
        end
      end
    end
  end
end

-- keep() for a call that creates no key but a bucket's bitmap (which gets its TTL as
-- it is made): after each keep() every key's TTL is within a minute of RECS's, which
-- every write keeps, so RECS's alone tells when they are due.
local function keep_recent()
  local ttl = redis.call('PTTL', RECS)
  if ttl ~= -2 and ttl < KEY_TTL - 60000 then
    keep()
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
