-- expire_lapsed(limit): end up to `limit` ACTIVE tokens past their end (ends_at), then idle
-- WAITING tokens (earliest deadlines first); prune old records of ended tokens.
-- ARGV 8 limit (the caller keeps it within BATCH).
-- Reply: the rows of the tokens this run ended, as they were just before.
local limit = tonumber(ARGV[8])

local ended = {}
end_lapsed(ACTIVE, 'A', limit, ended)
end_lapsed(IDLE, 'W', limit - #ended, ended)
prune_ended(BATCH)
keep()
return ended
