-- stats: live WAITING tokens (idle deadline after NOW; the idle set holds exactly the
-- line), live ACTIVE tokens (ends_at after NOW), tokens admitted in the minute before
-- NOW, and the seed the line was opened with ('' before the opening). Reads only.
-- Reply: {waiting, active, admitted in the last minute, seed or ''}.
return {
  redis.call('ZCOUNT', IDLE, '(' .. num(NOW), '+inf'),
  redis.call('ZCOUNT', ACTIVE, '(' .. num(NOW), '+inf'),
  admitted_since(NOW - MINUTE),
  redis.call('HGET', META, 'open') or '',
}
