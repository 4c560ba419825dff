-- expire(token id): end a live token (leaving, paying).
-- ARGV 8 token id. Reply: the token's row as it was, or nil if it was not live.
local tid = ARGV[8]

local t = load(tid)
if t == nil then
  return false
end
if settle(tid, t) == 'E' then
  keep()
  return false
end
local before = row(tid, t)
finish(tid, t)
keep()
return before
