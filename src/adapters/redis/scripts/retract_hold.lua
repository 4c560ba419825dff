-- retract_hold(token id, ended until, remaining until): a hold of the token that
-- reached to `ended until` was released. If held_until is no later than that, the
-- holds that remain keep the token (held_until = `remaining until`, or none if '');
-- a later extension stands. A token then past its base end with no hold left ends.
-- ARGV 8 token id, 9 ended until (us), 10 remaining until (us) or ''.
-- Reply: 1 if the token ended in this call, else 0.
local tid = ARGV[8]
local ended_until = tonumber(ARGV[9])
local remaining_until = tonumber(ARGV[10])

local t = load_token(tid)
if t == nil then
  return 0
end
local was = t.status
if settle(t) ~= 'A' then
  if was ~= t.status then
    keep()
  end
  return 0
end
if t.held == nil or t.held > ended_until then
  return 0
end
t.held = remaining_until
store(t)
redis.call('ZADD', ACTIVE, num(ends_at(t)), num(t.slot))
local ended = 0
if settle(t) == 'E' then
  ended = 1
end
keep()
return ended
