"""Rate limit logs in Redis, shared by every instance: one script call per hit.

Each key is a sorted set of the hits it accepted (member: a random id, score: the
instant in microseconds), named ``<namespace>:{rate}:<key>``. Every limiter key shares
the hash tag ``{rate}``, so a hit that checks two keys (an address and a fan) is one
script on one Cluster slot. The script drops the hits that left the window, judges
every key, and logs the hit under every key only when all have room
(``scripts/rate_hit.lua``; the rule is ``adapters.rate_window``). Instants come from the
caller's clock, never Redis ``TIME``; a key's TTL (the window plus a margin, from its
last hit) only collects garbage.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import redis.asyncio as aioredis

from adapters.redis.packing import microseconds, microseconds_in, milliseconds_rounded_up
from adapters.redis.scripts import check_client, register_scripts, run_script

_TTL_MARGIN = dt.timedelta(seconds=5)


class RedisRateLimiter:
    def __init__(self, client: aioredis.Redis, *, namespace: str = "concert") -> None:
        check_client(client)
        self._namespace = namespace
        self._hit = register_scripts(client, ("rate_hit",))["rate_hit"]

    def key_name(self, key: str) -> str:
        return f"{self._namespace}:{{rate}}:{key}"

    async def hit(
        self, limits: Sequence[tuple[str, int]], window: dt.timedelta, now: dt.datetime
    ) -> dt.timedelta | None:
        if not limits:
            return None
        wait = await run_script(
            self._hit,
            [self.key_name(key) for key, _ in limits],
            [
                microseconds(now),
                microseconds_in(window),
                uuid.uuid4().hex,
                milliseconds_rounded_up(window + _TTL_MARGIN),
                *(limit for _, limit in limits),
            ],
        )
        return dt.timedelta(microseconds=int(wait)) if int(wait) > 0 else None

    async def sweep(self, window: dt.timedelta, now: dt.datetime) -> int:
        """Nothing to do: each key expires a little after its last hit leaves the window."""
        return 0
