"""The Redis waiting room's layout (a Fenwick tree for positions, heartbeat buckets for
idle expiry, bucketed id maps, fixed-width records) against the memory store as the
model: any sequence of operations gives the same answers, positions and counts."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.memory.queue_store import MemoryQueueStore
from adapters.redis import RedisQueueStore
from concert_core.domain import ConcertId, QueuePlace, QueueToken, TokenId, UserId
from concert_core.policy import Policy
from contract.helpers import T0, at, new_token_id, new_user
from services import redis_namespace

pytestmark = pytest.mark.redis

POLICY = Policy(
    active_capacity=3,
    active_ttl=dt.timedelta(seconds=120),
    idle_timeout=dt.timedelta(seconds=60),
    admission_rate_window=dt.timedelta(seconds=60),
)
C = ConcertId(1)


def token_view(token: QueueToken | None) -> Any:
    if token is None:
        return None
    return (
        token.token_id,
        token.user_id,
        token.sequence,
        token.status,
        token.issued_at,
        token.last_seen_at,
        token.active_until,
        token.held_until,
    )


def place_view(place: QueuePlace | None) -> Any:
    if place is None:
        return None
    return (token_view(place.token), place.status, place.position, place.admission_rate)


OPS = st.one_of(
    st.tuples(st.just("issue"), st.integers(0, 11)),
    st.tuples(st.just("crowd"), st.integers(1, 140)),
    st.tuples(st.just("poll"), st.integers(0, 10_000)),
    st.tuples(st.just("poll_all"), st.just(0)),
    st.tuples(st.just("expire"), st.integers(0, 10_000)),
    st.tuples(st.just("extend"), st.integers(0, 10_000)),
    st.tuples(st.just("admit"), st.integers(1, 5)),
    st.tuples(st.just("sweep"), st.integers(1, 6)),
    st.tuples(st.just("end_waiting"), st.integers(1, 70)),
    st.tuples(st.just("open"), st.integers(0, 2**62)),
)
STEPS = st.lists(st.tuples(OPS, st.integers(0, 25)), min_size=1, max_size=25)


async def run_both(steps: list[tuple[tuple[str, int], int]]) -> None:
    async for client, namespace in redis_namespace():
        redis_store = RedisQueueStore(client, POLICY, namespace=namespace)
        memory = MemoryQueueStore(POLICY)
        stores = (redis_store, memory)
        users = [new_user() for _ in range(12)]
        tokens: list[TokenId] = []
        crowd: list[UserId] = []
        seconds = 0
        for (op, arg), elapsed in steps:
            seconds += elapsed
            now = at(seconds)
            answers: list[Any] = []
            for store in stores:
                answers.append(await one(store, op, arg, now, users, tokens, crowd))
            assert answers[0] == answers[1], (op, arg, seconds)
            if op in ("issue", "crowd"):
                for token in answers[0][0] if op == "issue" else answers[0]:
                    if token not in tokens:
                        tokens.append(token)
            # Every token, every user and the counts agree after every step.
            looks = []
            for store in stores:
                places = await asyncio.gather(*(store.look(C, t, now) for t in tokens))
                live = [await store.live_token(u, C, now) for u in users]
                looks.append(
                    (
                        [place_view(p) for p in places],
                        [token_view(t) for t in live],
                        await store.stats(C, now),
                    )
                )
            assert looks[0] == looks[1], (op, arg, seconds)


async def one(
    store: Any,
    op: str,
    arg: int,
    now: dt.datetime,
    users: list[UserId],
    tokens: list[TokenId],
    crowd: list[UserId],
) -> Any:
    def pick() -> TokenId:
        return tokens[arg % len(tokens)] if tokens else TokenId(uuid.UUID(int=arg + 1))

    if op == "issue":
        outcome = await store.issue(users[arg], C, TokenId(uuid.UUID(int=len(tokens) + 10**6)), now)
        return [outcome.place.token.token_id], outcome.created, place_view(outcome.place)
    if op == "crowd":
        if store is not None and len(crowd) < 400:
            while len(crowd) < 400:
                crowd.append(new_user())
        start = (len(tokens) * 7) % 200
        issued = await asyncio.gather(
            *(
                store.issue(crowd[start + n], C, TokenId(uuid.UUID(int=start + n + 1)), now)
                for n in range(arg)
            ),
            return_exceptions=True,
        )
        return [o.place.token.token_id for o in issued if not isinstance(o, BaseException)]
    if op == "poll":
        return place_view(await store.poll(C, pick(), now))
    if op == "poll_all":
        places = await asyncio.gather(*(store.poll(C, t, now) for t in tokens))
        return [place_view(p) for p in places]
    if op == "expire":
        return token_view(await store.expire(C, pick(), now))
    if op == "extend":
        return await store.extend_active(C, pick(), now + dt.timedelta(seconds=200), now)
    if op == "admit":
        return [token_view(t) for t in await store.admit(C, now, per_pass=arg)]
    if op == "sweep":
        # Which lapsed tokens a sweep short of its limit takes first is the store's
        # choice: the limit here is never short.
        return sorted(map(repr, map(token_view, await store.expire_lapsed(C, now, 1_000))))
    if op == "end_waiting":
        return await store.end_waiting(C, now, arg)
    assert op == "open"
    return await store.open(C, arg, now)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=STEPS)
def test_any_sequence_of_operations_answers_as_the_memory_store_does(
    steps: list[tuple[tuple[str, int], int]],
) -> None:
    asyncio.run(run_both(steps))


async def test_positions_stay_exact_across_blocks_as_the_tree_grows_and_tokens_leave() -> None:
    async for client, namespace in redis_namespace():
        store = RedisQueueStore(client, POLICY, namespace=namespace)
        await store.prepare()  # as the service does at start-up
        # Past two blocks of 4,096 slots: the tree over the blocks doubles twice.
        tokens = [new_token_id() for _ in range(9_000)]
        for start in range(0, len(tokens), 500):
            await asyncio.gather(
                *(store.issue(new_user(), C, t, T0) for t in tokens[start : start + 500])
            )
        gone = set(tokens[::3] + tokens[4_000:4_200] + tokens[8_180:8_200])
        await asyncio.gather(*(store.expire(C, t, at(1)) for t in gone))
        line = [t for t in tokens if t not in gone]
        places = await asyncio.gather(*(store.look(C, t, at(2)) for t in tokens))
        expected = {t: n for n, t in enumerate(line, start=1)}
        assert [p.position if p else None for p in places] == [expected.get(t) for t in tokens]
        assert (await store.stats(C, at(2))).waiting == len(line)
        admitted = await store.admit(C, at(3), capacity=4_500)
        assert [t.token_id for t in admitted] == line[:4_500]
        places = await asyncio.gather(*(store.look(C, t, at(3)) for t in line[4_500:]))
        assert [p.position for p in places if p] == list(range(1, len(line) - 4_500 + 1))
        assert await store.end_waiting(C, at(4), 10_000) == len(line) - 4_500
        assert (await store.stats(C, at(4))).waiting == 0


async def test_idle_tokens_are_found_across_many_heartbeat_buckets() -> None:
    async for client, namespace in redis_namespace():
        store = RedisQueueStore(client, POLICY, namespace=namespace)
        # One token joins every 3 s for 5 minutes; the even ones poll every 20 s.
        tokens = [new_token_id() for _ in range(100)]
        seen: dict[TokenId, int] = {}
        for n, token in enumerate(tokens):
            await store.issue(new_user(), C, token, at(3 * n))
            seen[token] = 3 * n
            for m in range(0, n, 2):
                if 3 * n - seen[tokens[m]] >= 20 and 3 * n - seen[tokens[m]] < 60:
                    await store.poll(C, tokens[m], at(3 * n))
                    seen[tokens[m]] = 3 * n
        for now in (299, 310, 331, 357, 400):
            live = [t for t in tokens if now - seen[t] < 60]
            assert (await store.stats(C, at(now))).waiting == len(live)
            ended = await store.expire_lapsed(C, at(now), 1_000)
            assert all(now - seen[t.token_id] >= 60 for t in ended)
            places = await asyncio.gather(*(store.look(C, t, at(now)) for t in live))
            assert [p.position for p in places if p] == list(range(1, len(live) + 1))
        assert await client.zcard(store.keys(C)[5]) == 0  # every bucket dropped whole
        assert await client.keys(f"{namespace}:*:beat:*") == []


async def test_keys_of_the_earlier_layout_are_never_read_but_for_an_opened_seed() -> None:
    async for client, namespace in redis_namespace():
        store = RedisQueueStore(client, POLICY, namespace=namespace)
        earlier = f"{namespace}:{{concert:1}}"
        token = new_token_id()
        await client.hset(f"{earlier}:tok", token.bytes, b"x" * 41)
        await client.hset(f"{earlier}:live", b"u" * 16, token.bytes)
        await client.zadd(f"{earlier}:line", {token.bytes: 1})
        assert await store.look(C, token, T0) is None
        fresh = await store.issue(new_user(), C, new_token_id(), T0)
        assert fresh.place.position == 1
        assert (await store.stats(C, T0)).shuffle_seed is None
        await client.hset(f"{earlier}:meta", mapping={"seq": 7, "open": "4242"})
        assert (await store.stats(C, T0)).shuffle_seed == 4242
        assert await store.open(C, 99, at(1)) == 4242  # the line opened once
        assert await client.pttl(store.keys(C)[0]) == -1
