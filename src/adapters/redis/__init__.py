"""Redis adapters for the scaled deployment: the queue store and the idempotency store.

Relational state (seats, reservations, wallets, payments) stays in SQL; Redis holds the
waiting room and the first results of keyed requests. Every key of a concert shares
the hash tag ``{concert:ID}`` and each idempotency key has one of its own, so both run
on Redis Cluster unchanged. Both need a ``redis.asyncio.Redis`` client that does not
decode replies; ``connect`` makes one.
"""

from __future__ import annotations

from adapters.redis.connection import connect, ping, redis_time, refused_settings
from adapters.redis.idempotency import RedisIdempotencyStore
from adapters.redis.queue_store import RedisQueueStore
from adapters.redis.rate_limiter import RedisRateLimiter
from adapters.redis.spent_proofs import RedisSpentProofs

__all__ = [
    "RedisIdempotencyStore",
    "RedisQueueStore",
    "RedisRateLimiter",
    "RedisSpentProofs",
    "connect",
    "ping",
    "redis_time",
    "refused_settings",
]
