-- open(seed): open the concert's line, once for all instances. The first call ends
-- the idle WAITING tokens, then deals the slots the live ones hold out again in the
-- order of SHA-1(seed .. ':' .. token id), so the pre-queue stays ahead of every later
-- arrival in an order the seed fixes (concert_core's shuffle_key computes the same
-- key). The set of slots is the same, so the line's bitmap and tree do not change: each
-- record moves
-- to its new slot, its ids and its heartbeat bit with it. The seed is kept in META's
-- field 'open' and META is kept for good; a later call changes nothing (a line the
-- earlier layout opened counts as opened, with its seed). The token's own seq never
-- changes.
-- ARGV 8 the seed, a decimal string (compared and hashed as text, never as a number).
-- Reply: the seed the line was opened with (this call's or an earlier one's).
local opened = redis.call('HGET', META, 'open')
if not opened and EARLIER_META then
  opened = redis.call('HGET', EARLIER_META, 'open')
  if opened then
    redis.call('HSET', META, 'open', opened)
    redis.call('PERSIST', META)
  end
end
if opened then
  return opened
end
local seed = ARGV[8]

end_idle(fen_total() + 1, {})

-- Each token as its key (40 hex digits) .. its id: sorting these plain strings orders
-- the tokens by key, and is a third faster than a sort with a Lua comparator.
local line = front(fen_total())
local order, by_id, slots = {}, {}, {}
for i, t in ipairs(line) do
  order[i] = redis.sha1hex(seed .. ':' .. t.tid) .. t.tid
  by_id[t.tid] = t
  slots[i] = t.slot
end
table.sort(order)

-- The i-th in the drawn order takes the i-th smallest slot. Every bit leaves first,
-- then each record is written at its new slot with its bit and its ids.
for _, t in ipairs(line) do
  beat_leave(t)
end
for i, entry in ipairs(order) do
  local t = by_id[string.sub(entry, 41)]
  local from = t.slot
  t.slot = slots[i]
  store(t)
  redis.call('SETBIT', beat_key(beat_of(t.seen)), t.slot, 1)
  if from ~= t.slot then
    map_set(IDS, t.tid, t.slot)
    if map_get(USERS, t.uid) == from then
      map_set(USERS, t.uid, t.slot)
    end
  end
end

redis.call('HSET', META, 'open', seed)
redis.call('PERSIST', META)
keep()
return seed
