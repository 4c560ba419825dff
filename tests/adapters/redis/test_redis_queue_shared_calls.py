"""What the Redis queue store owes beyond the contract: one caller's failure in a shared
script call stays its own; the opening hashes as ``shuffle_key``; a token's record keeps
its width; the seed of an opened line outlives the garbage collection."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from typing import Any
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

RECORD = 69
"""A token record's width in the records string (``encode`` in queue_common.lua)."""


async def records(client: Any, store: RedisQueueStore, concert: ConcertId) -> list[bytes]:
    """The concert's records, the one of slot ``s`` at index ``s - 1``."""
    packed = await client.get(store.keys(concert)[3]) or b""
    return [packed[i : i + RECORD] for i in range(0, len(packed), RECORD)]


async def waiting_slots(
    client: Any, store: RedisQueueStore, concert: ConcertId
) -> list[tuple[int, TokenId]]:
    """(slot, token id) of each WAITING token, in slot order."""
    return [
        (slot, TokenId(UUID(bytes=record[:16])))
        for slot, record in enumerate(await records(client, store, concert), start=1)
        if record[36:37] == b"W"
    ]


async def test_a_corrupt_token_fails_its_own_poll_and_no_other() -> None:
    async for client, namespace in redis_namespace():
        store = RedisQueueStore(client, Policy(), namespace=namespace)
        concert = ConcertId(1)
        tokens = [new_token_id() for _ in range(5)]
        slots = []
        for token in tokens:
            slots.append((await store.issue(new_user(), concert, token, T0)).place.token.sequence)
        recs_key = store.keys(concert)[3]
        await client.setrange(recs_key, (slots[2] - 1) * RECORD + 36, b"?")  # no status
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
        tokens = [new_token_id() for _ in range(300)]
        sequences = {}
        for token in tokens:
            issued = await store.issue(new_user(), concert, token, T0)
            sequences[token] = issued.place.token.sequence
        await store.expire(concert, tokens[7], T0)  # a gap among the slots
        slots = [slot for slot, _ in await waiting_slots(client, store, concert)]
        seed = secrets.randbits(62)
        assert await store.open(concert, seed, at(1)) == seed
        dealt = await waiting_slots(client, store, concert)
        live = [t for t in tokens if t != tokens[7]]
        in_order = sorted(live, key=lambda t: shuffle_key(seed, t))
        assert [token for _, token in dealt] == in_order
        assert [slot for slot, _ in dealt] == slots
        # Each token is found at its new place, its own sequence unchanged.
        places = await asyncio.gather(*(store.look(concert, t, at(1)) for t in in_order))
        assert [p.position for p in places if p] == list(range(1, len(live) + 1))
        assert all(
            p is not None and p.token.sequence == sequences[p.token.token_id] for p in places
        )


async def test_a_token_keeps_one_record_of_fixed_width_through_its_turn() -> None:
    async for client, namespace in redis_namespace():
        store = RedisQueueStore(client, Policy(), namespace=namespace)
        concert = ConcertId(1)
        recs_key = store.keys(concert)[3]
        first, second = new_token_id(), new_token_id()
        for token in (first, second):
            await store.issue(new_user(), concert, token, T0)
        assert await client.strlen(recs_key) == 2 * RECORD
        await store.admit(concert, T0, capacity=1)
        assert await store.extend_active(concert, first, at(500), at(10))
        looked = await store.look(concert, first, at(20))
        assert looked is not None and looked.token.held_until == at(500)
        await store.retract_hold(concert, first, at(500), None, at(20))
        assert await client.strlen(recs_key) == 2 * RECORD
        place = await store.look(concert, first, at(20))
        assert place is not None and place.token.held_until is None
        assert place.token.active_until == T0 + Policy().active_ttl


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
        beats = await client.keys(f"{namespace}:*:beat:*")
        assert beats
        for key in beats:
            assert await client.pttl(key) > 0


async def test_the_live_token_lookups_of_one_turn_share_one_call_each_judged_at_its_now() -> None:
    async for client, namespace in redis_namespace():
        store = RedisQueueStore(client, Policy(), namespace=namespace)
        concert = ConcertId(1)
        fans = [new_user() for _ in range(6)]
        tokens = [new_token_id() for _ in fans]
        for fan, token in zip(fans[:4], tokens, strict=False):
            await store.issue(fan, concert, token, T0)
        calls = 0
        script = store._scripts["live_token"]

        async def counted(keys: Any, args: Any, script: Any = script) -> Any:
            nonlocal calls
            calls += 1
            return await script(keys, args)

        store._scripts["live_token"] = counted  # type: ignore[assignment]
        idle = Policy().idle_timeout
        lookups = [store.live_token(fan, concert, T0) for fan in fans]
        # The first fan looked up again past its idle timeout: that one reads as none.
        lookups.append(store.live_token(fans[0], concert, T0 + idle))
        found = await asyncio.gather(*lookups)
        assert calls == 1
        assert [t.token_id if t else None for t in found] == [*tokens[:4], None, None, None]
