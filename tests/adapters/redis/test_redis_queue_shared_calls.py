"""What the Redis queue store owes beyond the contract: one caller's failure in a shared
script call stays its own; the opening hashes as ``shuffle_key``; a waiting token's
bytes do not grow; the seed of an opened line outlives the garbage collection."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from uuid import UUID

import pytest

from adapters.redis import RedisQueueStore
from concert_core.domain import (
    ConcertId,
    ServiceUnavailableError,
    TokenId,
    TokenStatus,
    shuffle_key,
)
from concert_core.policy import Policy
from contract.helpers import T0, at, new_token_id, new_user
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


async def test_the_opening_script_hashes_as_shuffle_key_does() -> None:
    async for client, _ in redis_namespace():
        for seed in (0, 7, 4242, 2**62 - 1, secrets.randbits(62), -5):
            for token_id in (new_token_id() for _ in range(20)):
                hashed = await client.eval(
                    "return redis.sha1hex(ARGV[1] .. ':' .. ARGV[2])",
                    0,
                    str(seed),
                    token_id.bytes,
                )
                assert hashed.decode() == shuffle_key(seed, token_id)


async def test_the_opening_deals_the_prequeues_own_slots_out_in_shuffle_key_order() -> None:
    async for client, namespace in redis_namespace():
        store = RedisQueueStore(client, Policy(), namespace=namespace)
        concert = ConcertId(1)
        line_key = store.keys(concert)[3]
        tokens = [new_token_id() for _ in range(300)]
        for token in tokens:
            await store.issue(new_user(), concert, token, T0)
        await store.expire(concert, tokens[7], T0)  # a gap among the slots
        slots = [score for _, score in await client.zrange(line_key, 0, -1, withscores=True)]
        seed = secrets.randbits(62)
        assert await store.open(concert, seed, at(1)) == seed
        dealt = await client.zrange(line_key, 0, -1, withscores=True)
        live = [t for t in tokens if t != tokens[7]]
        assert [TokenId(UUID(bytes=m)) for m, _ in dealt] == sorted(
            live, key=lambda t: shuffle_key(seed, t)
        )
        assert [score for _, score in dealt] == slots


async def test_a_waiting_token_stays_41_bytes_and_a_hold_grows_only_an_active_one() -> None:
    async for client, namespace in redis_namespace():
        store = RedisQueueStore(client, Policy(), namespace=namespace)
        concert = ConcertId(1)
        tok_key = store.keys(concert)[1]
        first, second = new_token_id(), new_token_id()
        for token in (first, second):
            await store.issue(new_user(), concert, token, T0)
        assert len(await client.hget(tok_key, first.bytes)) == 41
        await store.admit(concert, T0, capacity=1)
        assert len(await client.hget(tok_key, first.bytes)) == 49  # + active_until
        assert await store.extend_active(concert, first, at(500), at(10))
        assert len(await client.hget(tok_key, first.bytes)) == 57  # + held_until
        assert len(await client.hget(tok_key, second.bytes)) == 41
        await store.retract_hold(concert, first, at(500), None, at(20))
        assert len(await client.hget(tok_key, first.bytes)) == 49
        place = await store.look(concert, first, at(20))
        assert place is not None and place.token.held_until is None


async def test_an_opened_lines_seed_is_kept_while_the_rest_expires() -> None:
    async for client, namespace in redis_namespace():
        store = RedisQueueStore(client, Policy(), namespace=namespace)
        concert = ConcertId(1)
        meta = store.keys(concert)[0]
        await store.issue(new_user(), concert, new_token_id(), T0)
        assert await client.pttl(meta) > 0
        assert await store.open(concert, 99, at(1)) == 99
        await store.issue(new_user(), concert, new_token_id(), at(2))
        await store.admit(concert, at(3))
        assert await client.pttl(meta) == -1
        for key in store.keys(concert)[1:]:
            assert await client.pttl(key) != -1  # garbage collected in time
