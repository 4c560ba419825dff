-- extend_active(token id, until)...: keep each token ACTIVE at NOW alive until at
-- least its `until`; a lapsed one is ended instead. Concurrent callers share one call:
-- the pairs are taken in turn.
-- ARGV 8 token id, 9 until (us); 10, 11: the next pair; ...
-- Reply: per pair, 1 if extended (or already long enough), else 0.
local touched = false

local function one(tid, till)
  local t = load(tid)
  if t == nil then
    return 0
  end
  local status = settle(tid, t)
  if status ~= 'A' then
    if t.status == 'E' then
      touched = true
    end
    return 0
  end
  if till > t.till then
    t.till = till
    store(tid, t)
    redis.call('ZADD', ACTIVE, num(till), tid)
  end
  touched = true
  return 1
end

local out = {}
for i = 8, #ARGV - 1, 2 do
  out[#out + 1] = one(ARGV[i], tonumber(ARGV[i + 1]))
end
if touched then
  keep()
end
return out
