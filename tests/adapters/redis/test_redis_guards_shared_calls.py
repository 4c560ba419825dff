"""What the Redis rate limiter and spent-proof store owe beyond their contracts: the
calls of one event-loop turn go as one script call, and inside it every call is judged
as a call of its own would be (each hit at its own instant, each spend once)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from adapters.redis import RedisRateLimiter, RedisSpentProofs
from concert_core.domain import ConcertId
from contract.helpers import T0
from services import redis_namespace

pytestmark = pytest.mark.redis

WINDOW = dt.timedelta(seconds=60)
S = dt.timedelta(seconds=1)


class _CountedScript:
    """A registered script that counts its calls (the round trips it makes)."""

    def __init__(self, script: Any) -> None:
        self.script = script
        self.calls = 0

    async def __call__(self, keys: Any, args: Any) -> Any:
        self.calls += 1
        return await self.script(keys, args)


async def test_the_hits_of_one_turn_share_one_call_and_are_counted_exactly() -> None:
    async for client, namespace in redis_namespace():
        limiter = RedisRateLimiter(client, namespace=namespace)
        counted = limiter._hit = _CountedScript(limiter._hit)  # type: ignore[method-assign,assignment]
        # 30 hits on one address key (a limit of 20), 10 of them also on a fan key (a
        # limit of 4): the fan's 5th to 10th are refused by it, and logged nowhere, so
        # that 24 reach the address's limit of 20.
        hits = [
            limiter.hit(
                [("ip", 20), *([("fan", 4)] if i % 3 == 0 else [])], WINDOW, T0 + i * S / 100
            )
            for i in range(30)
        ]
        waits = await asyncio.gather(*hits)
        assert counted.calls == 1
        accepted = [i for i, wait in enumerate(waits) if wait is None]
        fan_accepted = [i for i in accepted if i % 3 == 0]
        assert fan_accepted == [0, 3, 6, 9]  # in the order they were made
        assert len(accepted) == 20
        assert await client.zcard(limiter.key_name("ip")) == 20
        assert await client.zcard(limiter.key_name("fan")) == 4
        assert accepted == [i for i in range(30) if i % 3 or i <= 9][:20]
        refused = [wait for wait in waits if wait is not None]
        assert all(wait > dt.timedelta(0) for wait in refused)


async def test_each_hit_of_a_shared_call_is_judged_at_its_own_instant() -> None:
    async for client, namespace in redis_namespace():
        limiter = RedisRateLimiter(client, namespace=namespace)
        assert await limiter.hit([("k", 1)], WINDOW, T0) is None
        # In one turn: a hit still inside the first one's window, then one after it.
        inside, after = await asyncio.gather(
            limiter.hit([("k", 1)], WINDOW, T0 + 30 * S),
            limiter.hit([("k", 1)], WINDOW, T0 + 61 * S),
        )
        assert inside == 30 * S
        assert after is None


async def test_the_spends_of_one_turn_share_one_call_and_each_solution_wins_once() -> None:
    async for client, namespace in redis_namespace():
        store = RedisSpentProofs(client, namespace=namespace)
        counted = store._spend = _CountedScript(store._spend)  # type: ignore[method-assign,assignment]
        expires = T0 + dt.timedelta(minutes=5)
        challenges = ["a" * 64, "b" * 64, "a" * 64, "c" * 64, "b" * 64]
        spent = await asyncio.gather(
            *(store.spend(ConcertId(4), c, expires, T0) for c in challenges)
        )
        assert counted.calls == 1
        assert spent == [True, True, False, True, False]
        # Another concert's spends are another call; its solutions are its own.
        assert await store.spend(ConcertId(5), "a" * 64, expires, T0)
        assert counted.calls == 2


async def test_a_malformed_hit_fails_alone_and_its_turns_other_hits_are_judged() -> None:
    """A limit below 1 is refused as the reference rule refuses it (``ValueError``), to
    its caller alone: in the shared script it failed the whole call, every caller of
    the turn got the error, and the hits taken before it were logged all the same."""
    async for client, namespace in redis_namespace():
        limiter = RedisRateLimiter(client, namespace=namespace)
        before, bad, after = await asyncio.gather(
            limiter.hit([("k", 2)], WINDOW, T0),
            limiter.hit([("k", 2), ("z", 0)], WINDOW, T0 + S),
            limiter.hit([("k", 2)], WINDOW, T0 + 2 * S),
            return_exceptions=True,
        )
        assert isinstance(bad, ValueError)
        assert before is None
        assert after is None
        assert await client.zcard(limiter.key_name("k")) == 2
        assert await client.exists(limiter.key_name("z")) == 0
