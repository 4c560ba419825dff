"""Used join-challenge solutions, in Redis."""

from __future__ import annotations

import datetime as dt

import redis.asyncio as aioredis

from adapters.challenge import SPENT_MARGIN
from adapters.redis.errors import unavailable_on_redis_errors
from adapters.redis.packing import milliseconds_rounded_up
from concert_core.domain import ConcertId


class RedisSpentProofs:
    """The SpentProofs of ``adapters.challenge``: one key per solution, set only if
    absent (``SET NX``, one atomic command for all instances), living until the
    solution's expiry plus ``SPENT_MARGIN``. The key carries the concert's hash tag."""

    def __init__(self, client: aioredis.Redis, *, namespace: str = "concert") -> None:
        self._client = client
        self._namespace = namespace

    def key_name(self, concert_id: ConcertId, challenge: str) -> str:
        return f"{self._namespace}:{{concert:{int(concert_id)}}}:proof:{challenge}"

    async def spend(
        self, concert_id: ConcertId, challenge: str, expires_at: dt.datetime, now: dt.datetime
    ) -> bool:
        # The TTL counts from Redis's clock, the rules' clock in this family; it is
        # never less than the margin.
        kept_for = max(expires_at - now, dt.timedelta(0)) + SPENT_MARGIN
        with unavailable_on_redis_errors():
            spent = await self._client.set(
                self.key_name(concert_id, challenge),
                b"1",
                nx=True,
                px=milliseconds_rounded_up(kept_for),
            )
        return bool(spent)
