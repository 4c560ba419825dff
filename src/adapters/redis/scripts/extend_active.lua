-- extend_active(token id, until, now)...: keep each token that may take a hold at its
-- now (ACTIVE and before its base end, active_until) alive until at least its `until`:
-- held_until becomes the later of the two; a lapsed one is ended instead. Concurrent
-- callers share one call: the items are taken in turn, each judged at its own
-- caller's now.
-- ARGV 8, 9, 10: token id, until (us), now (us); 11..13: the next item; ...
-- Reply: per item, 1 if extended (or already long enough), else 0.
local touched = false

local function one(tid, till)
  local t = load_token(tid)
  if t == nil then
    return 0
  end
  local status = settle(t)
  if t.status == 'E' then
    touched = true
  end
  if status ~= 'A' or NOW >= t.till then
    return 0
  end
  if t.held == nil or till > t.held then
    t.held = till
    store(t)
    redis.call('ZADD', ACTIVE, num(ends_at(t)), num(t.slot))
  end
  touched = true
  return 1
end

local out = {}
for i = 8, #ARGV - 2, 3 do
  NOW = tonumber(ARGV[i + 2])
  out[#out + 1] = each(one, ARGV[i], tonumber(ARGV[i + 1]))
end
if touched then
  keep()
end
return out
