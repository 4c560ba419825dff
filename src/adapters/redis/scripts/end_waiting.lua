-- end_waiting(limit): end up to `limit` WAITING tokens, the front of the line first
-- (the sale sold out or closed); ACTIVE tokens keep their turn.
-- ARGV 8 limit (the caller keeps it within BATCH).
-- Reply: how many tokens this call ended.
local limit = tonumber(ARGV[8])
if limit <= 0 then
  return 0
end

local ended = 0
for _, t in ipairs(front(limit)) do
  finish(t)
  ended = ended + 1
end
if ended > 0 then
  keep()
end
return ended
