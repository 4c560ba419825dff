"""QueueStore on-sale rules: the opening shuffle, admission within a per-sale capacity
and rate, the waiting room ended when a sale ends, holds that extend a turn only while
they last.

The fixture's policy: capacity 3, idle timeout 60 s, active TTL 120 s, rate window 60 s.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from concert_core.domain import ConcertId, TokenId, TokenStatus, shuffle_key
from contract.helpers import T0, Backend, at, new_token_id, new_user

C1, C2 = ConcertId(1), ConcertId(2)


async def join(backend: Backend, count: int, now: dt.datetime = T0) -> list[TokenId]:
    ids = []
    for _ in range(count):
        outcome = await backend.queue.issue(new_user(), C1, new_token_id(), now)
        ids.append(outcome.place.token.token_id)
    return ids


async def line(backend: Backend, ids: list[TokenId], now: dt.datetime) -> list[TokenId]:
    """``ids`` in the order of their positions at ``now``."""
    places = {}
    for token_id in ids:
        place = await backend.queue.look(C1, token_id, now)
        assert place is not None and place.position is not None
        places[place.position] = token_id
    assert sorted(places) == list(range(1, len(ids) + 1))
    return [places[p] for p in sorted(places)]


# -- the opening ----------------------------------------------------------------------


async def test_the_opening_orders_the_prequeue_by_the_seed(backend: Backend) -> None:
    prequeued = await join(backend, 12)
    assert await backend.queue.open(C1, 4242, at(1)) == 4242
    expected = sorted(prequeued, key=lambda t: shuffle_key(4242, t))
    assert expected != prequeued  # (this seed does move them)
    assert await line(backend, prequeued, at(1)) == expected


async def test_nobody_joining_after_the_opening_is_ahead_of_the_prequeue(
    backend: Backend,
) -> None:
    prequeued = await join(backend, 8)
    await backend.queue.open(C1, 7, at(1))
    later = await join(backend, 5, at(2))
    order = await line(backend, prequeued + later, at(2))
    assert set(order[:8]) == set(prequeued)
    assert order[8:] == later  # FIFO after the opening


async def test_a_line_opens_once_and_keeps_its_first_seed(backend: Backend) -> None:
    prequeued = await join(backend, 6)
    assert await backend.queue.open(C1, 11, at(1)) == 11
    first = await line(backend, prequeued, at(1))
    assert await backend.queue.open(C1, 99, at(2)) == 11
    assert await line(backend, prequeued, at(2)) == first
    assert (await backend.queue.stats(C1, at(2))).shuffle_seed == 11
    assert (await backend.queue.stats(C2, at(2))).shuffle_seed is None


async def test_openings_at_once_agree_on_one_seed(backend: Backend) -> None:
    prequeued = await join(backend, 10)
    seeds = await asyncio.gather(*(backend.queue.open(C1, s, at(1)) for s in range(1, 6)))
    assert len(set(seeds)) == 1
    assert await line(backend, prequeued, at(1)) == sorted(
        prequeued, key=lambda t: shuffle_key(seeds[0], t)
    )


async def test_the_opening_leaves_out_who_went_idle_and_admission_follows_the_shuffle(
    backend: Backend,
) -> None:
    idle = await join(backend, 2)
    prequeued = await join(backend, 6, at(30))
    await backend.queue.open(C1, 5, at(61))
    assert (await backend.queue.look(C1, idle[0], at(61))).status is TokenStatus.EXPIRED  # type: ignore[union-attr]
    expected = sorted(prequeued, key=lambda t: shuffle_key(5, t))
    admitted = await backend.queue.admit(C1, at(62))
    assert [t.token_id for t in admitted] == expected[:3]


async def test_an_opened_line_keeps_a_pollers_place_and_its_idle_timeout(
    backend: Backend,
) -> None:
    prequeued = await join(backend, 4)
    await backend.queue.open(C1, 3, at(1))
    keeper = prequeued[0]
    await backend.queue.poll(C1, keeper, at(50))
    assert (await backend.queue.look(C1, keeper, at(100))).status is TokenStatus.WAITING  # type: ignore[union-attr]
    await backend.queue.admit(C1, at(100))  # the others idled out at 60 s
    place = await backend.queue.look(C1, keeper, at(100))
    assert place is not None and place.status is TokenStatus.ACTIVE


# -- admission within the sale's capacity and rate ------------------------------------


async def test_admission_fills_the_capacity_it_is_given(backend: Backend) -> None:
    ids = await join(backend, 8)
    assert [t.token_id for t in await backend.queue.admit(C1, at(1), capacity=5)] == ids[:5]
    assert await backend.queue.admit(C1, at(2), capacity=5) == []


async def test_lowering_the_capacity_ends_no_turn_and_admits_nobody_until_below_it(
    backend: Backend,
) -> None:
    ids = await join(backend, 6)
    await backend.queue.admit(C1, at(1), capacity=4)
    assert await backend.queue.admit(C1, at(2), capacity=2) == []
    stats = await backend.queue.stats(C1, at(2))
    assert (stats.waiting, stats.active) == (2, 4)
    for token_id in ids[:3]:
        await backend.queue.expire(C1, token_id, at(3))
    assert [t.token_id for t in await backend.queue.admit(C1, at(4), capacity=2)] == [ids[4]]


async def test_no_sixty_seconds_admit_more_than_the_rate(backend: Backend) -> None:
    ids = await join(backend, 20)
    admitted: list[TokenId] = []
    for second in range(0, 90, 10):
        for token_id in admitted:
            await backend.queue.poll(C1, token_id, at(second))
        passed = await backend.queue.admit(C1, at(second), capacity=100, per_minute=5)
        admitted += [t.token_id for t in passed]
        for other in ids:
            await backend.queue.poll(C1, other, at(second))
        if second < 60:
            assert len(admitted) <= 5
    assert admitted == ids[: len(admitted)]
    assert 5 < len(admitted) <= 10
    stats = await backend.queue.stats(C1, at(80))
    assert stats.admitted_last_minute <= 5


async def test_a_pass_admits_no_more_than_its_share(backend: Backend) -> None:
    ids = await join(backend, 5)
    passed = await backend.queue.admit(C1, at(1), capacity=100, per_minute=60, per_pass=2)
    assert [t.token_id for t in passed] == ids[:2]
    assert (await backend.queue.stats(C1, at(1))).admitted_last_minute == 2


async def test_passes_at_once_never_exceed_the_rate(backend: Backend) -> None:
    await join(backend, 30)
    passes = await asyncio.gather(
        *(backend.queue.admit(C1, at(1), capacity=100, per_minute=7) for _ in range(8))
    )
    assert sum(len(p) for p in passes) == 7


# -- a sale that ends ---------------------------------------------------------------


async def test_ending_the_waiting_room_ends_the_waiting_and_spares_the_active(
    backend: Backend,
) -> None:
    ids = await join(backend, 7)
    await backend.queue.admit(C1, at(1))
    assert await backend.queue.end_waiting(C1, at(2), 3) == 3
    assert await backend.queue.end_waiting(C1, at(2), 10) == 1
    assert await backend.queue.end_waiting(C1, at(2), 10) == 0
    for token_id in ids[3:]:
        assert (await backend.queue.look(C1, token_id, at(2))).status is TokenStatus.EXPIRED  # type: ignore[union-attr]
    for token_id in ids[:3]:
        assert (await backend.queue.look(C1, token_id, at(2))).status is TokenStatus.ACTIVE  # type: ignore[union-attr]
    stats = await backend.queue.stats(C1, at(2))
    assert (stats.waiting, stats.active) == (0, 3)


# -- holds and the turn's end ----------------------------------------------------------


async def admitted_one(backend: Backend) -> TokenId:
    [token_id] = await join(backend, 1)
    await backend.queue.admit(C1, T0)
    return token_id


async def test_a_hold_keeps_a_turn_past_its_base_end_only_as_long_as_the_hold(
    backend: Backend,
) -> None:
    token_id = await admitted_one(backend)
    assert await backend.queue.extend_active(C1, token_id, at(150), at(100))
    place = await backend.queue.look(C1, token_id, at(140))
    assert place is not None and place.status is TokenStatus.ACTIVE
    assert place.token.active_until == at(120)  # the base end
    assert place.token.ends_at == at(150)
    assert (await backend.queue.look(C1, token_id, at(150))).status is TokenStatus.EXPIRED  # type: ignore[union-attr]


async def test_a_turn_past_its_base_end_takes_no_new_hold(backend: Backend) -> None:
    token_id = await admitted_one(backend)
    assert await backend.queue.extend_active(C1, token_id, at(150), at(100))
    assert not await backend.queue.extend_active(C1, token_id, at(200), at(125))
    place = await backend.queue.look(C1, token_id, at(125))
    assert place is not None and place.token.ends_at == at(150)


async def test_releasing_the_last_hold_past_the_base_end_ends_the_turn(
    backend: Backend,
) -> None:
    token_id = await admitted_one(backend)
    await backend.queue.extend_active(C1, token_id, at(150), at(100))
    await backend.queue.retract_hold(C1, token_id, at(150), None, at(130))
    assert (await backend.queue.look(C1, token_id, at(130))).status is TokenStatus.EXPIRED  # type: ignore[union-attr]
    assert (await backend.queue.stats(C1, at(130))).active == 0


async def test_a_released_hold_gives_back_its_extension_to_the_holds_that_remain(
    backend: Backend,
) -> None:
    token_id = await admitted_one(backend)
    await backend.queue.extend_active(C1, token_id, at(140), at(90))
    await backend.queue.extend_active(C1, token_id, at(150), at(100))
    await backend.queue.retract_hold(C1, token_id, at(150), at(140), at(101))
    place = await backend.queue.look(C1, token_id, at(101))
    assert place is not None and place.token.ends_at == at(140)
    # Before the base end, releasing every hold leaves the turn its base time.
    await backend.queue.retract_hold(C1, token_id, at(140), None, at(102))
    place = await backend.queue.look(C1, token_id, at(102))
    assert place is not None and place.status is TokenStatus.ACTIVE
    assert place.token.ends_at == at(120)


async def test_retracting_an_earlier_hold_keeps_a_later_one(backend: Backend) -> None:
    token_id = await admitted_one(backend)
    await backend.queue.extend_active(C1, token_id, at(150), at(100))
    await backend.queue.retract_hold(C1, token_id, at(130), None, at(101))
    place = await backend.queue.look(C1, token_id, at(101))
    assert place is not None and place.token.ends_at == at(150)
