-- extend_active(token id, until): keep a token ACTIVE at NOW alive until at least
-- `until`; a lapsed one is ended instead.
-- ARGV 8 token id, 9 until (us). Reply: 1 if extended (or already long enough), else 0.
local tid, till = ARGV[8], tonumber(ARGV[9])

local t = load(tid)
if t == nil then
  return 0
end
local status = settle(tid, t)
if status ~= 'A' then
  if t.status == 'E' then
    keep()
  end
  return 0
end
if till > t.till then
  t.till = till
  store(tid, t)
  redis.call('ZADD', ACTIVE, num(till), tid)
end
keep()
return 1
