-- open(seed): open the concert's line, once for all instances. The first call ends
-- the idle WAITING tokens, then deals the places (scores) the live ones hold out
-- again in the order of SHA-1(seed .. ':' .. token id), so the pre-queue stays ahead
-- of every later arrival in an order the seed fixes (concert_core's shuffle_key
-- computes the same key). The seed is kept in META's field 'open' and META is kept
-- for good; a later call changes nothing. The token's own seq never changes.
-- ARGV 8 the seed, a decimal string (compared and hashed as text, never as a number).
-- Reply: the seed the line was opened with (this call's or an earlier one's).
local opened = redis.call('HGET', META, 'open')
if opened then
  return opened
end
local seed = ARGV[8]

end_lapsed(IDLE, 'W', redis.call('ZCARD', IDLE), {})

-- Each token as its key (40 hex digits) .. its id: sorting these plain strings orders
-- the tokens by key, and is a third faster than a sort with a Lua comparator (this
-- script blocks Redis for under a second per 100,000 pre-queued tokens).
local line = redis.call('ZRANGE', LINE, 0, -1, 'WITHSCORES')
local order, slots = {}, {}
for i = 1, #line, 2 do
  order[#order + 1] = redis.sha1hex(seed .. ':' .. line[i]) .. line[i]
  slots[#slots + 1] = line[i + 1]
end
table.sort(order)

-- The i-th in the drawn order takes the i-th smallest place (ZADD in chunks: Lua's
-- unpack takes a few thousand values at most).
local args = {}
for i, entry in ipairs(order) do
  args[#args + 1] = slots[i]
  args[#args + 1] = string.sub(entry, 41)
  if #args >= 1000 or i == #order then
    redis.call('ZADD', LINE, unpack(args))
    args = {}
  end
end

redis.call('HSET', META, 'open', seed)
redis.call('PERSIST', META)
keep()
return seed
