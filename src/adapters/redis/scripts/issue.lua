-- issue(user, token id, now)...: each user's live token (seen now), or a new WAITING
-- one. Concurrent callers share one call: the items are taken in turn, each judged at
-- its own caller's now, as if the calls had come one after another (a user twice in
-- one call gets the first item's token); one that fails is an error for its caller.
-- ARGV 8, 9, 10: user id (16 bytes), token id (16 bytes), now (us); 11..13: the next.
-- Reply: per item, {created (1, 0), row, status, position, admitted} or {-1} (the
-- token id is taken).
local function one(uid, tid)
  local existing = map_get(USERS, uid)
  if existing then
    local t = load(existing)
    if t == nil or t.uid ~= uid then
      map_del(USERS, uid, existing)
    else
      local status = settle(t)
      if status ~= 'E' then
        local pos = -1
        if status == 'W' then
          see(t)
          pos = position(t)
        end
        return {0, row(t), status, pos, admitted_recently()}
      end
    end
  end

  if map_get(IDS, tid) ~= nil then
    return {-1}
  end
  local seq = redis.call('HINCRBY', META, 'seq', 1)
  local t = {
    slot = seq, tid = tid, uid = uid, seq = seq, issued = NOW, seen = NOW, status = 'W',
  }
  fen_grow(seq)
  store(t)
  map_set(IDS, tid, seq)
  map_set(USERS, uid, seq)
  line_join(seq)
  beat_join(t)
  return {1, row(t), 'W', position(t), admitted_recently()}
end

local out = {}
for i = 8, #ARGV - 2, 3 do
  NOW = tonumber(ARGV[i + 2])
  out[#out + 1] = each(one, ARGV[i], ARGV[i + 1])
end
keep()
return out
