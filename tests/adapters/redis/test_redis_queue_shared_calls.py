"""The Redis queue store's shared script calls: one caller's failure stays its own."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from adapters.redis import RedisQueueStore
from concert_core.domain import ConcertId, ServiceUnavailableError, TokenStatus
from concert_core.policy import Policy
from contract.helpers import T0, new_token_id, new_user
from services import redis_namespace

pytestmark = pytest.mark.redis


async def test_a_corrupt_token_fails_its_own_poll_and_no_other() -> None:
    async for client, namespace in redis_namespace():
        store = RedisQueueStore(client, Policy(), namespace=namespace)
        concert = ConcertId(1)
        tokens = [new_token_id() for _ in range(5)]
        for token in tokens:
            await store.issue(new_user(), concert, token, T0)
        tok_key = store.keys(concert)[1]
        await client.hset(tok_key, tokens[2].bytes, b"not a packed token")
        later = T0 + dt.timedelta(seconds=1)
        results = await asyncio.gather(
            *(store.poll(concert, token, later) for token in tokens), return_exceptions=True
        )
        assert isinstance(results[2], ServiceUnavailableError)
        others = [r for i, r in enumerate(results) if i != 2]
        assert all(r is not None and not isinstance(r, BaseException) for r in others)
        assert [r.status for r in others] == [TokenStatus.WAITING] * 4  # type: ignore[union-attr]
        assert [r.position for r in others] == [1, 2, 4, 5]  # type: ignore[union-attr]
