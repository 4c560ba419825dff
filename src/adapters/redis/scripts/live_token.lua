-- live_token(user, now)...: each user's live token at its caller's NOW, as a look sees
-- it (reads only). Concurrent callers share one call: the items are taken in turn,
-- each judged at its own caller's now; one that fails is an error for its caller alone.
-- ARGV 8, 9: user id (16 bytes), now (us); 10, 11: the next; ...
-- Reply: per item, {} (none live) or {row, status, position, admitted}.
local function one(uid)
  local slot = map_get(USERS, uid)
  if slot == nil then
    return {}
  end
  local t = load(slot)
  if t == nil or t.uid ~= uid then
    return {}
  end
  local status = status_at(t)
  if status == 'E' then
    return {}
  end
  return answer(t, status)
end

local out = {}
for i = 8, #ARGV - 1, 2 do
  NOW = tonumber(ARGV[i + 1])
  out[#out + 1] = each(one, ARGV[i])
end
return out
