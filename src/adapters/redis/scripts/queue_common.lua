-- Shared prelude of every queue script: the store prepends it to each script body
-- before registering it, so every operation is still one self-contained script.
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
--   5 fen     string a Fenwick tree of u32 counters over the slots (node i at bit
--                    offset 32 * i; node 0 unused): 1 at each WAITING token's slot,
--                    so a position is a prefix sum. Its length is 4 * (cap + 1), cap
--                    a power of two (see fen_grow)
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
--  10 (open and stats only) the meta hash of the earlier layout, read for its seed
--
-- ARGV (every time is an integer number of microseconds since the epoch; integers
-- below 2^53 are exact in Lua's doubles; every rule is judged by NOW, never TIME):
--   1 now  2 idle timeout  3 active ttl  4 admission-rate window
--   5 key ttl in ms (garbage collection only)  6 how long ended records are kept
--   7 the most tokens one script may end  8.. the operation's own arguments

local META, IDS, USERS, RECS = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local FEN, BEATS, ACTIVE, ADM, ENDED = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local EARLIER_META = KEYS[10]
local PREFIX = string.sub(META, 1, -5)
local NOW = tonumber(ARGV[1])
local IDLE_FOR = tonumber(ARGV[2])
local ACTIVE_FOR = tonumber(ARGV[3])
local WINDOW = tonumber(ARGV[4])
local KEY_TTL = tonumber(ARGV[5])
local ENDED_FOR = tonumber(ARGV[6])
local BATCH = tonumber(ARGV[7])
local MINUTE = 60000000
local R = 69
local BEAT = 10000000
local ENTRY = 20

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

local function map_set(map, id, slot)
  local field = bucket_of(id)
  local entry = id .. struct.pack('>I4', slot)
  local blob = redis.call('HGET', map, field)
  if not blob then
    blob = entry
  else
    local at = find_entry(blob, id)
    if at == nil then
      blob = blob .. entry
    else
      blob = string.sub(blob, 1, at - 1) .. entry .. string.sub(blob, at + ENTRY)
    end
  end
  redis.call('HSET', map, field, blob)
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

-- -- the Fenwick tree: WAITING tokens counted by slot -------------------------------

local function fen_cap()
  local n = redis.call('STRLEN', FEN)
  if n == 0 then
    return 0
  end
  return n / 4 - 1
end

local function node(i)
  return redis.call('BITFIELD_RO', FEN, 'GET', 'u32', '#' .. num(i))[1]
end

-- Make room for `slot`: the capacity doubles until it covers it. No slot above the
-- old capacity is counted yet, so the new top node holds the old one's total and
-- every other new node is zero.
local function fen_grow(slot)
  local cap = fen_cap()
  if cap == 0 then
    redis.call('BITFIELD', FEN, 'SET', 'u32', '#1', 0)
    cap = 1
  end
  while cap < slot do
    redis.call('BITFIELD', FEN, 'SET', 'u32', '#' .. num(2 * cap), node(cap))
    cap = 2 * cap
  end
end

local function fen_add(slot, delta)
  local cap = fen_cap()
  local args = {'BITFIELD', FEN}
  local i = slot
  while i <= cap do
    args[#args + 1] = 'INCRBY'
    args[#args + 1] = 'u32'
    args[#args + 1] = '#' .. num(i)
    args[#args + 1] = delta
    i = i + bit.band(i, -i)
  end
  if #args > 2 then
    redis.call(unpack(args))
  end
end

-- WAITING tokens at slots 1..slot (one call, O(log n)).
local function fen_prefix(slot)
  local args = {'BITFIELD_RO', FEN}
  local i = slot
  while i > 0 do
    args[#args + 1] = 'GET'
    args[#args + 1] = 'u32'
    args[#args + 1] = '#' .. num(i)
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

local function fen_total()
  local cap = fen_cap()
  if cap == 0 then
    return 0
  end
  return node(cap)
end

-- The slot of the k-th WAITING token (k >= 1), or nil if fewer wait.
local function fen_find(k)
  local cap = fen_cap()
  local pos, step = 0, cap
  while step >= 1 do
    local i = pos + step
    if i <= cap then
      local count = node(i)
      if count < k then
        pos = i
        k = k - count
      end
    end
    step = step / 2
  end
  if pos + 1 > cap then
    return nil
  end
  return pos + 1
end

-- Up to `n` WAITING tokens from the front of the line, in order (read only): each
-- run of the line is found by the tree, then read 64 records at a time.
local CHUNK = 64
local function front(n)
  local out = {}
  if n <= 0 then
    return out
  end
  local slot = fen_find(1)
  while slot do
    local chunk = redis.call('GETRANGE', RECS, (slot - 1) * R, (slot - 1 + CHUNK) * R - 1)
    local got = math.floor(#chunk / R)
    local last = slot
    for j = 0, got - 1 do
      last = slot + j
      if string.byte(chunk, j * R + 37) == 87 then -- 'W'
        out[#out + 1] = decode(last, string.sub(chunk, j * R + 1, (j + 1) * R))
        if #out >= n then
          return out
        end
      end
    end
    if got < CHUNK then
      return out
    end
    slot = fen_find(fen_prefix(last) + 1)
  end
  return out
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
  fen_add(t.slot, -1)
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

local function position(t)
  return fen_prefix(t.slot)
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

-- End up to `limit` ACTIVE tokens past their end (ends_at at or before NOW); append
-- them to `out` as they were just before. An entry that does not match its token
-- (which the scripts never leave) is repaired. Returns how many it ended.
local function end_lapsed_active(limit, out)
  if limit <= 0 then
    return 0
  end
  local ended = 0
  local members = redis.call('ZRANGEBYSCORE', ACTIVE, '-inf', num(NOW), 'LIMIT', 0, limit)
  for _, member in ipairs(members) do
    local t = load(tonumber(member))
    if t == nil or t.status ~= 'A' then
      redis.call('ZREM', ACTIVE, member)
    else
      local before = row(t)
      if settle(t) == 'E' then
        out[#out + 1] = before
        ended = ended + 1
      else
        redis.call('ZADD', ACTIVE, num(ends_at(t)), member)
      end
    end
  end
  return ended
end

-- End up to `limit` idle WAITING tokens (last seen IDLE_FOR or more before NOW),
-- appending them to `out` as they were just before. Only the buckets whose score
-- (no later than their earliest last_seen) is due are read; each member is checked
-- against its record. A bucket read to its end is dropped whole once empty, or its
-- score moves up to the earliest last_seen left in it. Returns how many it ended.
local function end_idle(limit, out)
  local cutoff = NOW - IDLE_FOR
  local ended = 0
  local due = redis.call('ZRANGEBYSCORE', BEATS, '-inf', num(cutoff), 'WITHSCORES')
  for i = 1, #due, 2 do
    local b = tonumber(due[i])
    local key = beat_key(b)
    local earliest = nil
    local complete = true
    local from = 0
    while true do
      local slot = redis.call('BITPOS', key, 1, from, -1, 'BIT')
      if slot < 0 then
        break
      end
      from = slot + 1
      local t = load(slot)
      if t == nil or t.status ~= 'W' or beat_of(t.seen) ~= b then
        redis.call('SETBIT', key, slot, 0) -- a stray bit (the scripts leave none)
      elseif t.seen <= cutoff then
        if ended >= limit then
          complete = false
          break
        end
        out[#out + 1] = row(t)
        finish(t)
        ended = ended + 1
      elseif earliest == nil or t.seen < earliest then
        earliest = t.seen
      end
    end
    if not complete then
      return ended
    end
    if earliest == nil then
      redis.call('DEL', key)
      redis.call('ZREM', BEATS, due[i])
    else
      redis.call('ZADD', BEATS, 'XX', num(earliest), due[i])
    end
  end
  return ended
end

-- WAITING tokens still counted in line but idle at NOW (read only).
local function idle_in_line()
  local cutoff = NOW - IDLE_FOR
  local idle = 0
  local due = redis.call('ZRANGEBYSCORE', BEATS, '-inf', num(cutoff), 'WITHSCORES')
  for i = 1, #due, 2 do
    local b = tonumber(due[i])
    local key = beat_key(b)
    if (b + 1) * BEAT - 1 <= cutoff then
      idle = idle + redis.call('BITCOUNT', key) -- every one of them is idle
    else
      local from = 0
      while true do
        local slot = redis.call('BITPOS', key, 1, from, -1, 'BIT')
        if slot < 0 then
          break
        end
        from = slot + 1
        local t = load(slot)
        if t ~= nil and t.status == 'W' and beat_of(t.seen) == b and t.seen <= cutoff then
          idle = idle + 1
        end
      end
    end
  end
  return idle
end

local function lapsed_remain()
  return #redis.call('ZRANGEBYSCORE', ACTIVE, '-inf', num(NOW), 'LIMIT', 0, 1) > 0
    or #redis.call('ZRANGEBYSCORE', BEATS, '-inf', num(NOW - IDLE_FOR), 'LIMIT', 0, 1) > 0
end

-- Forget the ids of up to `limit` tokens that ended ENDED_FOR or more before NOW (their
-- records stay in place, unreachable).
local function prune_ended(limit)
  for _ = 1, limit do
    local entry = redis.call('LINDEX', ENDED, 0)
    if not entry then
      return
    end
    local at, slot = struct.unpack('>dI4', entry)
    if NOW - at < ENDED_FOR then
      return
    end
    redis.call('LPOP', ENDED)
    local t = load(slot)
    if t ~= nil and t.status == 'E' then
      map_del(IDS, t.tid, slot)
    end
  end
end

-- Garbage collection only: keep every key of the concert at least KEY_TTL ms past
-- this write (refreshed once the remaining time has fallen by a minute; the bucket
-- bitmaps with the beats key). META, the sequence, is kept two minutes longer than
-- the rest, so it never restarts while a token it numbered is still stored; once the
-- line has opened it is kept for good (open.lua makes it persistent), as the seed
-- decides that the line opens once.
local function keep()
  for k = 1, 9 do
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
