-- issue(user, token id): the user's live token (seen now), or a new WAITING one.
-- ARGV 8 user id (16 bytes), 9 token id (16 bytes).
-- Reply: {created (1, 0; -1: the token id is taken), row, status, position, admitted}.
local uid, tid = ARGV[8], ARGV[9]

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
      keep()
      return {0, row(existing, t), status, pos, admitted_recently()}
    end
  end
end

if redis.call('HEXISTS', TOK, tid) == 1 then
  keep()
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
keep()
return {1, row(tid, t), 'W', position(tid), admitted_recently()}
