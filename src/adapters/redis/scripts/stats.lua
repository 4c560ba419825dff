-- stats: live WAITING tokens (in line and not idle at NOW), live ACTIVE tokens
-- (ends_at after NOW), tokens admitted in the minute before NOW, and the seed the line
-- was opened with ('' before the opening; the earlier layout's seed counts). Reads only.
-- Reply: {waiting, active, admitted in the last minute, seed or ''}.
local seed = redis.call('HGET', META, 'open')
if not seed and EARLIER_META then
  seed = redis.call('HGET', EARLIER_META, 'open')
end
return {
  fen_total() - idle_in_line(),
  redis.call('ZCOUNT', ACTIVE, '(' .. num(NOW), '+inf'),
  admitted_since(NOW - MINUTE),
  seed or '',
}
