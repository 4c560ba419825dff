-- issue(user, token id, now)...: each user's live token (seen now), or a new WAITING
-- one. Concurrent callers share one call: the items are taken in turn, each judged at
-- its own caller's now, as if the calls had come one after another (a user twice in
-- one call gets the first item's token); one that fails is an error for its caller.
-- ARGV 8, 9, 10: user id (16 bytes), token id (16 bytes), now (us); 11..13: the next.
-- Reply: per item, {created (1, 0), row, status, position, admitted} or {-1} (the
-- token id is taken).
local function one(uid, tid)
  local existing = redis.call('HGET', LIVE, uid)
  if existing then
    local t = load(existing)
    if t == nil then
      redis.call('HDEL', LIVE, uid)
    else
      local status = settle(existing, t)
      if status ~= 'E' then
        local pos = -1
        if status == 'W' then
          see(existing, t)
          pos = position(existing)
        end
        return {0, row(existing, t), status, pos, admitted_recently()}
      end
    end
  end

  if redis.call('HEXISTS', TOK, tid) == 1 then
    return {-1}
  end
  local t = {
    uid = uid, seq = redis.call('HINCRBY', META, 'seq', 1), issued = NOW, seen = NOW,
    status = 'W',
  }
  store(tid, t)
  redis.call('HSET', LIVE, uid, tid)
  redis.call('ZADD', LINE, num(t.seq), tid)
  redis.call('ZADD', IDLE, num(NOW + IDLE_FOR), tid)
  return {1, row(tid, t), 'W', position(tid), admitted_recently()}
end

local out = {}
for i = 8, #ARGV - 2, 3 do
  NOW = tonumber(ARGV[i + 2])
  out[#out + 1] = each(one, ARGV[i], ARGV[i + 1])
end
keep()
return out
