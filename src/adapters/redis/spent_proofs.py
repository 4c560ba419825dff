"""Used join-challenge solutions, in Redis."""

from __future__ import annotations

import datetime as dt

import redis.asyncio as aioredis

from adapters.challenge import SPENT_MARGIN
from adapters.redis.coalescer import Coalescer
from adapters.redis.errors import unavailable_on_redis_errors
from adapters.redis.packing import milliseconds_rounded_up
from adapters.redis.scripts import register_scripts, run_script
from concert_core.domain import ConcertId


def spent_proof_key(namespace: str, concert_id: ConcertId, challenge: str) -> str:
    """The key that marks ``challenge``'s solution spent for the concert (it carries the
    concert's hash tag: the waiting room's slot)."""
    return f"{namespace}:{{concert:{int(concert_id)}}}:proof:{challenge}"


def spent_proof_ttl(expires_at: dt.datetime, now: dt.datetime) -> int:
    """How long a solution spent at ``now`` is remembered, in milliseconds: until its
    challenge expires, plus ``SPENT_MARGIN``. It counts from Redis's clock, the rules'
    clock in this family; it is never less than the margin."""
    return milliseconds_rounded_up(max(expires_at - now, dt.timedelta(0)) + SPENT_MARGIN)


class RedisSpentProofs:
    """The SpentProofs of ``adapters.challenge``: one key per solution, set only if
    absent (``SET NX``, atomic for all instances), living until the solution's expiry
    plus ``SPENT_MARGIN``. The key carries the concert's hash tag.

    The spends of one concert made in one turn of the event loop share one script
    call (``scripts/spend_proofs.lua``: a ``SET NX`` per solution, in the order they
    were made; ``Coalescer``, decision 21). The Redis queue store spends proofs under
    the same keys as it issues tokens (``RedisQueueStore.issue_proved``)."""

    def __init__(self, client: aioredis.Redis, *, namespace: str = "concert") -> None:
        self._client = client
        self._namespace = namespace
        self._spend = register_scripts(client, ("spend_proofs",))["spend_proofs"]
        self._spends: Coalescer[ConcertId, tuple[str, int], int] = Coalescer(self._spend_many)

    def key_name(self, concert_id: ConcertId, challenge: str) -> str:
        return spent_proof_key(self._namespace, concert_id, challenge)

    async def spend(
        self, concert_id: ConcertId, challenge: str, expires_at: dt.datetime, now: dt.datetime
    ) -> bool:
        key = self.key_name(concert_id, challenge)
        return bool(await self._spends.submit(concert_id, (key, spent_proof_ttl(expires_at, now))))

    async def _spend_many(self, concert_id: ConcertId, spends: list[tuple[str, int]]) -> list[int]:
        keys = [key for key, _ in spends]
        reply = await run_script(self._spend, keys, [ttl for _, ttl in spends])
        return [int(spent) for spent in reply]

    async def forget(self, concert_id: ConcertId, challenge: str) -> None:
        with unavailable_on_redis_errors():
            await self._client.delete(self.key_name(concert_id, challenge))
