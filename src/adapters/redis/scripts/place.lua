-- look / poll(token id, now)...: each token's state and position, and the concert's
-- admissions in the rate window. A poll also applies time (ends a lapsed token) and
-- records the sighting; a look writes nothing. Concurrent callers share one call: the
-- items are taken in turn, each judged at its own caller's now, as if the calls had
-- come one after another; one that fails is an error for its caller alone.
-- ARGV 8 '1' to poll, '0' to look; 9, 10: token id, now (us); 11, 12: the next; ...
-- Reply: per item, {} (unknown token) or {row, status, position, admitted}.
local polling = ARGV[8] == '1'
local changed = false

local function one(tid)
  local t = load_token(tid)
  if t == nil then
    return {}
  end
  local status
  if polling then
    local stored = t.status
    local seen = t.seen
    status = settle(t)
    if status == 'W' then
      see(t)
    end
    if t.status ~= stored or t.seen ~= seen then
      changed = true
    end
  else
    status = status_at(t)
  end
  return answer(t, status)
end

local out = {}
for i = 9, #ARGV - 1, 2 do
  NOW = tonumber(ARGV[i + 1])
  out[#out + 1] = each(one, ARGV[i])
end
if changed then
  keep_recent()
end
return out
