-- expire_lapsed(limit): end up to `limit` ACTIVE tokens past their end (ends_at), then
-- idle WAITING tokens (by heartbeat bucket); prune old records of ended tokens.
-- ARGV 8 limit (the caller keeps it within BATCH).
-- Reply: the rows of the tokens this run ended, as they were just before.
local limit = tonumber(ARGV[8])

local ended = {}
local count = end_lapsed_active(limit, ended)
end_idle(limit - count, ended)
prune_ended(BATCH)
keep()
return ended
