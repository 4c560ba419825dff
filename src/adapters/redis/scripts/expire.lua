-- expire(token id)...: end each live token (leaving, paying). Concurrent callers share
-- one call: the ids are taken in turn.
-- ARGV 8.. token ids. Reply: per id, the token's row as it was, or '' if it was not
-- live.
local touched = false

local function one(tid)
  local t = load(tid)
  if t == nil then
    return ''
  end
  touched = true
  if settle(tid, t) == 'E' then
    return ''
  end
  local before = row(tid, t)
  finish(tid, t)
  return before
end

local out = {}
for i = 8, #ARGV do
  out[#out + 1] = one(ARGV[i])
end
if touched then
  keep()
end
return out
