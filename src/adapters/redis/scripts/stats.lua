-- stats: live WAITING tokens (idle deadline after NOW; the idle set holds exactly the
-- line) and live ACTIVE tokens (active_until after NOW). Reads only.
-- Reply: {waiting, active}.
return {
  redis.call('ZCOUNT', IDLE, '(' .. num(NOW), '+inf'),
  redis.call('ZCOUNT', ACTIVE, '(' .. num(NOW), '+inf'),
}
