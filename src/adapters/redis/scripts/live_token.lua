-- live_token(user): the user's live token at NOW, as a look sees it (reads only).
-- ARGV 8 user id (16 bytes).
-- Reply: {} (none live) or {row, status, position, admitted}.
local uid = ARGV[8]
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
local pos = -1
if status == 'W' then
  pos = position(t)
end
return {row(t), status, pos, admitted_recently()}
