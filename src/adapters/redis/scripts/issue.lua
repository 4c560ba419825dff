-- issue(user, token id, spend, ttl, now)...: each user's live token (seen now), or a
-- new WAITING one. Concurrent callers share one call: the items are taken in turn, each
-- judged at its own caller's now, as if the calls had come one after another (a user
-- twice in one call gets the first item's token); one that fails is an error for its
-- caller.
-- ARGV 8..12: user id (16 bytes), token id (16 bytes), spend, ttl (ms), now (us);
-- 13..17: the next. The spend: '' none asked; '-' a join challenge asked and no proof
-- (only a live token comes back); else the index in KEYS (past the concert's ten) of
-- the proof's key: a proof already spent is refused; an unspent one is set (PX ttl) as
-- the last write of the new token.
-- Reply: per item, {created (1, 0), row, status, position, admitted}, {-1} (the token
-- id is taken) or {-2} (no live token, and no proof or one spent before: nothing
-- changed).
local function one(uid, tid, spend, ttl)
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

  if spend == '-' then
    return {-2}
  end
  if map_get(IDS, tid) ~= nil then
    return {-1}
  end
  -- A proof spent before: refused, nothing written. An unspent one is marked spent only
  -- once the token is made (the last write): an issue that fails halfway (an error
  -- reply for this item) leaves the proof unspent.
  local proof = spend ~= '' and KEYS[tonumber(spend)] or nil
  if proof and redis.call('EXISTS', proof) == 1 then
    return {-2}
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
  if proof then
    redis.call('SET', proof, '1', 'PX', ttl)
  end
  return {1, row(t), 'W', position(t), admitted_recently()}
end

local out = {}
for i = 8, #ARGV - 4, 5 do
  NOW = tonumber(ARGV[i + 4])
  out[#out + 1] = each(one, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
end
keep()
return out
