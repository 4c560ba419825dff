-- The second prelude of the queue scripts that issue, admit, sweep, open or count:
-- what the hot calls (look, poll, expire, extend) never need, kept out of them so
-- that they do not build it on every call. Comes after queue_common.lua.

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

-- Make room for `slot`'s block: the capacity doubles until it covers it. No block
-- above the old capacity is counted yet, so the new top node holds the old one's
-- total and every other new node is zero.
local function fen_grow(slot)
  local block = block_of(slot)
  local cap = fen_cap()
  if cap == 0 then
    redis.call('BITFIELD', FEN, 'SET', 'u32', '#1', 0)
    cap = 1
  end
  while cap < block do
    redis.call('BITFIELD', FEN, 'SET', 'u32', 32 * 2 * cap, node(cap))
    cap = 2 * cap
  end
end

local function fen_total()
  local cap = fen_cap()
  if cap == 0 then
    return 0
  end
  return node(cap)
end

-- Up to `n` WAITING tokens from the front of the line, in order (read only): each
-- the first bit set in the line after the one before.
local function front(n)
  local out = {}
  local from = 0
  while #out < n do
    local slot = redis.call('BITPOS', LINE, 1, from, -1, 'BIT')
    if slot < 0 then
      break
    end
    local t = load(slot)
    if t ~= nil and t.status == 'W' then
      out[#out + 1] = t
    end
    from = slot + 1
  end
  return out
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
