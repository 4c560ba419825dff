"""What the Redis spent-proof store owes beyond the contract: a spent solution's key
lives until the solution's expiry plus the margin, then Redis forgets it; it carries
the concert's hash tag."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.challenge import SPENT_MARGIN
from adapters.redis import RedisSpentProofs
from concert_core.domain import ConcertId
from contract.helpers import T0
from services import redis_namespace

pytestmark = pytest.mark.redis


async def test_a_spent_key_lives_until_the_expiry_plus_the_margin() -> None:
    async for client, namespace in redis_namespace():
        store = RedisSpentProofs(client, namespace=namespace)
        concert, challenge = ConcertId(3), "c" * 64
        expires = T0 + dt.timedelta(minutes=5)

        assert await store.spend(concert, challenge, expires, T0)

        key = store.key_name(concert, challenge)
        assert "{concert:3}" in key
        ttl_ms = await client.pttl(key)
        wanted = (dt.timedelta(minutes=5) + SPENT_MARGIN) // dt.timedelta(milliseconds=1)
        assert wanted - 5_000 < ttl_ms <= wanted


async def test_a_spend_after_the_expiry_keeps_its_key_for_the_margin() -> None:
    async for client, namespace in redis_namespace():
        store = RedisSpentProofs(client, namespace=namespace)
        expires = T0 + dt.timedelta(minutes=5)

        assert await store.spend(ConcertId(3), "d" * 64, expires, expires + dt.timedelta(hours=1))

        ttl_ms = await client.pttl(store.key_name(ConcertId(3), "d" * 64))
        assert 0 < ttl_ms <= SPENT_MARGIN // dt.timedelta(milliseconds=1)
