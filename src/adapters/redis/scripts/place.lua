-- look / poll(token id): the token's state, position and the concert's admissions in
-- the rate window. A poll also applies time (ends a lapsed token) and records the
-- sighting; a look writes nothing.
-- ARGV 8 token id, 9 '1' to poll, '0' to look.
-- Reply: {} (unknown token) or {row, status, position, admitted}.
local tid, polling = ARGV[8], ARGV[9] == '1'

local t = load(tid)
if t == nil then
  return {}
end
local status
if polling then
  local stored = t.status
  local seen = t.seen
  status = settle(tid, t)
  if status == 'W' then
    see(tid, t)
  end
  if t.status ~= stored or t.seen ~= seen then
    keep()
  end
else
  status = status_at(t)
end
local pos = -1
if status == 'W' then
  pos = position(tid)
end
return {row(tid, t), status, pos, admitted_recently()}
