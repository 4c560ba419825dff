-- look / poll(token ids): each token's state and position, and the concert's
-- admissions in the rate window. A poll also applies time (ends a lapsed token) and
-- records the sighting; a look writes nothing. Concurrent callers share one call, so
-- the ids are taken in turn, as if the calls had come one after another.
-- ARGV 8 '1' to poll, '0' to look; 9.. token ids.
-- Reply: per token id, {} (unknown token) or {row, status, position}; then admitted.
local polling = ARGV[8] == '1'
local changed = false

local function one(tid)
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
      changed = true
    end
  else
    status = status_at(t)
  end
  local pos = -1
  if status == 'W' then
    pos = position(tid)
  end
  return {row(tid, t), status, pos}
end

local out = {}
for i = 9, #ARGV do
  out[#out + 1] = one(ARGV[i])
end
if changed then
  keep()
end
out[#out + 1] = admitted_recently()
return out
