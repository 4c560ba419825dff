-- expire(token id, now)...: end each live token (leaving, paying). Concurrent callers
-- share one call: the items are taken in turn, each judged at its own caller's now.
-- ARGV 8, 9: token id, now (us); 10, 11: the next item; ...
-- Reply: per item, the token's row as it was, or '' if it was not live.
local touched = false

local function one(tid)
  local t = load_token(tid)
  if t == nil then
    return ''
  end
  touched = true
  if settle(t) == 'E' then
    return ''
  end
  local before = row(t)
  finish(t)
  return before
end

local out = {}
for i = 8, #ARGV - 1, 2 do
  NOW = tonumber(ARGV[i + 1])
  out[#out + 1] = each(one, ARGV[i])
end
if touched then
  keep()
end
return out
