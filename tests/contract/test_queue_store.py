"""QueueStore: exact FIFO by a global sequence, a hard cap on ACTIVE tokens, lapses
judged at the instant asked about, every method one atomic operation.

The fixture's policy: capacity 3, idle timeout 60 s, active TTL 120 s, rate window 60 s.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from backends import Backend
from concert_core.domain import (
    ConcertId,
    IssueOutcome,
    QueueStats,
    QueueToken,
    TokenId,
    TokenStatus,
    UserId,
)
from contract.helpers import T0, at, new_token_id, new_user

C1, C2 = ConcertId(1), ConcertId(2)


async def issue(
    backend: Backend,
    concert_id: ConcertId = C1,
    now: dt.datetime = T0,
    user: UserId | None = None,
) -> IssueOutcome:
    return await backend.queue.issue(user or new_user(), concert_id, new_token_id(), now)


async def issue_many(
    backend: Backend, count: int, concert_id: ConcertId = C1, now: dt.datetime = T0
) -> list[TokenId]:
    return [(await issue(backend, concert_id, now)).place.token.token_id for _ in range(count)]


async def fill_capacity(backend: Backend, concert_id: ConcertId = C1) -> list[TokenId]:
    """Issue and admit exactly ``capacity`` tokens at ``T0``."""
    ids = await issue_many(backend, backend.policy.active_capacity, concert_id)
    admitted = await backend.queue.admit(concert_id, T0)
    assert [t.token_id for t in admitted] == ids
    return ids


def counts(stats: QueueStats) -> tuple[int, int]:
    """Live WAITING and ACTIVE tokens."""
    return stats.waiting, stats.active


async def status_of(backend: Backend, token_id: TokenId, now: dt.datetime) -> TokenStatus:
    place = await backend.queue.look(C1, token_id, now)
    assert place is not None
    return place.status


async def position_of(backend: Backend, token_id: TokenId, now: dt.datetime) -> int | None:
    place = await backend.queue.look(C1, token_id, now)
    assert place is not None
    return place.position


# -- issuing ------------------------------------------------------------------------


async def test_a_new_token_waits_with_the_given_id_and_the_users_claims(
    backend: Backend,
) -> None:
    user, token_id = new_user(), new_token_id()
    outcome = await backend.queue.issue(user, C1, token_id, at(1))
    assert outcome.created is True
    place = outcome.place
    assert (place.status, place.position) == (TokenStatus.WAITING, 1)
    token = place.token
    assert (token.token_id, token.user_id, token.concert_id) == (token_id, user, C1)
    assert (token.status, token.issued_at, token.active_until) == (TokenStatus.WAITING, at(1), None)
    assert token.sequence >= 1


async def test_within_a_concert_sequences_strictly_increase_in_issue_order(
    backend: Backend,
) -> None:
    # The contract orders tokens within a concert only: a store may keep one counter
    # per concert (Redis Cluster keeps each concert in one hash slot).
    by_concert: dict[ConcertId, list[int]] = {C1: [], C2: []}
    for n in range(8):
        concert = (C1, C2)[n % 2]
        outcome = await issue(backend, concert, at(n))
        by_concert[concert].append(outcome.place.token.sequence)
    for sequences in by_concert.values():
        assert len(sequences) == 4
        assert sequences == sorted(set(sequences))


async def test_issuing_again_for_a_live_token_returns_the_same_token_and_place(
    backend: Backend,
) -> None:
    user = new_user()
    await issue(backend)
    first = await issue(backend, user=user)
    await issue(backend)
    again = await backend.queue.issue(user, C1, new_token_id(), at(50))
    assert again.created is False
    assert again.place.token.token_id == first.place.token.token_id
    assert again.place.token.sequence == first.place.token.sequence
    assert (again.place.status, again.place.position) == (TokenStatus.WAITING, 2)
    assert (await backend.queue.stats(C1, at(50))).waiting == 3
    # Asking again counts as being seen: the token outlives the others' idle timeout.
    assert await status_of(backend, first.place.token.token_id, at(100)) is TokenStatus.WAITING


async def test_issuing_again_for_an_active_token_returns_it_active(backend: Backend) -> None:
    user = new_user()
    first = await issue(backend, user=user)
    await backend.queue.admit(C1, at(1))
    again = await issue(backend, now=at(2), user=user)
    assert again.created is False
    assert again.place.token.token_id == first.place.token.token_id
    assert (again.place.status, again.place.position) == (TokenStatus.ACTIVE, None)
    assert (await backend.queue.stats(C1, at(2))).active == 1


async def test_a_user_whose_token_expired_gets_a_new_one_at_the_back_of_the_line(
    backend: Backend,
) -> None:
    user = new_user()
    first = await issue(backend, user=user)
    await issue(backend, now=at(61))
    second = await issue(backend, now=at(62), user=user)  # the first went idle at 60 s
    assert second.created is True
    assert second.place.token.token_id != first.place.token.token_id
    assert second.place.token.sequence > first.place.token.sequence
    assert second.place.position == 2


async def test_live_token_is_the_one_issue_would_give_back(backend: Backend) -> None:
    user = new_user()
    assert await backend.queue.live_token(user, C1, T0) is None
    first = await issue(backend, user=user)
    found = await backend.queue.live_token(user, C1, at(1))
    assert found is not None and found.token_id == first.place.token.token_id
    assert await backend.queue.live_token(user, C2, at(1)) is None
    assert await backend.queue.live_token(new_user(), C1, at(1)) is None
    await backend.queue.admit(C1, at(2))
    active = await backend.queue.live_token(user, C1, at(3))
    assert active is not None and active.status is TokenStatus.ACTIVE


async def test_live_token_records_nothing_and_knows_no_ended_or_lapsed_token(
    backend: Backend,
) -> None:
    idle, left = new_user(), new_user()
    await issue(backend, user=idle)
    gone = await issue(backend, user=left)
    await backend.queue.expire(C1, gone.place.token.token_id, at(1))
    assert await backend.queue.live_token(left, C1, at(2)) is None
    # Asked at 50 s, the idle token is still WAITING; asking did not see it, so it
    # lapses at 60 s all the same.
    assert await backend.queue.live_token(idle, C1, at(50)) is not None
    assert await backend.queue.live_token(idle, C1, at(60)) is None
    renewed = await issue(backend, now=at(61), user=idle)
    assert renewed.created is True


# -- positions, looking and polling -------------------------------------------------


async def test_positions_are_one_to_n_in_issue_order_and_per_concert(backend: Backend) -> None:
    ids = await issue_many(backend, 4)
    other = await issue_many(backend, 2, C2)
    assert [await position_of(backend, t, at(1)) for t in ids] == [1, 2, 3, 4]
    places = [await backend.queue.poll(C2, t, at(1)) for t in other]
    assert [p.position for p in places if p] == [1, 2]
    # A user has one live token per concert, not one overall.
    user = new_user()
    mine = await issue(backend, C1, at(2), user)
    there = await issue(backend, C2, at(2), user)
    assert there.created is True
    assert there.place.token.token_id != mine.place.token.token_id
    assert (mine.place.position, there.place.position) == (5, 3)


async def test_an_unknown_token_or_one_of_another_concert_is_not_found(
    backend: Backend,
) -> None:
    (token_id,) = await issue_many(backend, 1)
    assert await backend.queue.look(C1, new_token_id(), at(1)) is None
    assert await backend.queue.poll(C1, new_token_id(), at(1)) is None
    assert await backend.queue.look(C2, token_id, at(1)) is None
    assert await backend.queue.poll(C2, token_id, at(1)) is None
    assert await backend.queue.expire(C2, token_id, at(1)) is None
    assert await status_of(backend, token_id, at(1)) is TokenStatus.WAITING


async def test_a_waiting_token_idle_past_the_timeout_reads_expired(backend: Backend) -> None:
    first, second = await issue_many(backend, 2)
    assert await status_of(backend, first, at(59)) is TokenStatus.WAITING
    looked = await backend.queue.look(C1, first, at(61))
    polled = await backend.queue.poll(C1, second, at(61))
    assert looked is not None and (looked.status, looked.position) == (TokenStatus.EXPIRED, None)
    assert polled is not None and (polled.status, polled.position) == (TokenStatus.EXPIRED, None)
    # A late poll does not bring it back.
    assert await status_of(backend, second, at(62)) is TokenStatus.EXPIRED


async def test_polling_keeps_a_waiting_token_in_line(backend: Backend) -> None:
    (token_id,) = await issue_many(backend, 1)
    for seconds in (50, 100, 150):
        polled = await backend.queue.poll(C1, token_id, at(seconds))
        assert polled is not None and polled.status is TokenStatus.WAITING
    assert await status_of(backend, token_id, at(209)) is TokenStatus.WAITING
    assert await status_of(backend, token_id, at(211)) is TokenStatus.EXPIRED
    # Looking is not polling: a token only looked at goes idle.
    (looked_at,) = await issue_many(backend, 1, now=at(200))
    assert await status_of(backend, looked_at, at(250)) is TokenStatus.WAITING
    assert await status_of(backend, looked_at, at(261)) is TokenStatus.EXPIRED


# -- admission ----------------------------------------------------------------------


async def test_admit_fills_free_places_with_the_earliest_tokens_in_order(
    backend: Backend,
) -> None:
    ids = await issue_many(backend, 5)
    admitted = await backend.queue.admit(C1, at(5))
    assert [t.token_id for t in admitted] == ids[:3]
    assert [t.sequence for t in admitted] == sorted(t.sequence for t in admitted)
    assert all(t.status is TokenStatus.ACTIVE and t.active_until == at(125) for t in admitted)
    looked = await backend.queue.look(C1, ids[0], at(6))
    assert looked is not None
    assert (looked.status, looked.position, looked.token.active_until) == (
        TokenStatus.ACTIVE,
        None,
        at(125),
    )
    assert [await position_of(backend, t, at(6)) for t in ids[3:]] == [1, 2]


async def test_admission_never_exceeds_the_capacity_across_passes(backend: Backend) -> None:
    assert await backend.queue.admit(C1, T0) == []
    ids = await issue_many(backend, 6)
    first = await backend.queue.admit(C1, at(1))
    second = await backend.queue.admit(C1, at(2))
    assert len(first) == backend.policy.active_capacity
    assert second == []
    assert (await backend.queue.stats(C1, at(2))).active == backend.policy.active_capacity
    statuses = [await status_of(backend, t, at(2)) for t in ids]
    assert statuses.count(TokenStatus.ACTIVE) == backend.policy.active_capacity
    # The capacity is per concert.
    await issue_many(backend, 4, C2)
    assert len(await backend.queue.admit(C2, at(3))) == 3
    assert counts(await backend.queue.stats(C2, at(3))) == (1, 3)


async def test_an_idle_token_is_never_admitted_and_the_next_takes_its_place(
    backend: Backend,
) -> None:
    idle = (await issue(backend)).place.token.token_id
    polite = await issue_many(backend, 4, now=at(30))
    admitted = await backend.queue.admit(C1, at(61))
    assert [t.token_id for t in admitted] == polite[:3]
    assert await status_of(backend, idle, at(61)) is TokenStatus.EXPIRED
    assert await position_of(backend, polite[3], at(61)) == 1


async def test_an_active_token_past_its_time_expires_and_its_place_is_refilled(
    backend: Backend,
) -> None:
    active = await fill_capacity(backend)
    waiting = await issue_many(backend, 2, now=at(100))
    assert await backend.queue.admit(C1, at(119)) == []
    assert await status_of(backend, active[0], at(121)) is TokenStatus.EXPIRED
    refilled = await backend.queue.admit(C1, at(121))
    assert [t.token_id for t in refilled] == waiting
    assert all(t.active_until == at(241) for t in refilled)
    assert (await backend.queue.stats(C1, at(121))).active == 2


# -- expiring -----------------------------------------------------------------------


async def test_expire_ends_a_live_token_and_returns_it_as_it_was(backend: Backend) -> None:
    active = await fill_capacity(backend)
    waiting = await issue_many(backend, 4, now=at(1))
    ended_active = await backend.queue.expire(C1, active[1], at(2))
    ended_waiting = await backend.queue.expire(C1, waiting[1], at(2))
    assert ended_active is not None and ended_active.token_id == active[1]
    assert ended_active.status is TokenStatus.ACTIVE
    assert ended_waiting is not None and ended_waiting.token_id == waiting[1]
    assert ended_waiting.status is TokenStatus.WAITING
    assert await status_of(backend, active[1], at(3)) is TokenStatus.EXPIRED
    assert await status_of(backend, waiting[1], at(3)) is TokenStatus.EXPIRED
    # Those behind a waiting token move up; an active one's place goes to the next.
    behind = [waiting[0], waiting[2], waiting[3]]
    assert [await position_of(backend, t, at(3)) for t in behind] == [1, 2, 3]
    assert [t.token_id for t in await backend.queue.admit(C1, at(3))] == [waiting[0]]


async def test_expire_of_an_ended_lapsed_or_unknown_token_returns_none(
    backend: Backend,
) -> None:
    first, idle = await issue_many(backend, 2)
    await backend.queue.expire(C1, first, at(1))
    assert await backend.queue.expire(C1, first, at(2)) is None
    assert await backend.queue.expire(C1, idle, at(61)) is None
    assert await backend.queue.expire(C1, new_token_id(), at(2)) is None


async def test_after_an_expiry_pass_those_behind_an_idle_token_move_up(backend: Backend) -> None:
    ahead = await issue_many(backend, 1)
    idle = await issue_many(backend, 1)
    behind = await issue_many(backend, 2)
    for token_id in ahead + behind:
        await backend.queue.poll(C1, token_id, at(50))
    await backend.queue.expire_lapsed(C1, at(61), 100)
    assert [await position_of(backend, t, at(61)) for t in ahead + behind] == [1, 2, 3]
    assert await status_of(backend, idle[0], at(61)) is TokenStatus.EXPIRED


async def test_after_an_admission_pass_those_behind_an_idle_token_move_up(
    backend: Backend,
) -> None:
    await fill_capacity(backend)
    ahead = await issue_many(backend, 1)
    idle = await issue_many(backend, 1)
    behind = await issue_many(backend, 2)
    for token_id in ahead + behind:
        await backend.queue.poll(C1, token_id, at(50))
    # No place is free (the active tokens last until 120 s), yet the pass drops the idle one.
    assert await backend.queue.admit(C1, at(61)) == []
    assert [await position_of(backend, t, at(61)) for t in ahead + behind] == [1, 2, 3]
    assert await status_of(backend, idle[0], at(61)) is TokenStatus.EXPIRED


# -- extending ----------------------------------------------------------------------


async def test_extend_active_keeps_an_active_token_alive_longer_never_shorter(
    backend: Backend,
) -> None:
    active = await fill_capacity(backend)
    assert await backend.queue.extend_active(C1, active[1], at(30), at(10)) is True
    looked = await backend.queue.look(C1, active[1], at(100))
    assert looked is not None
    assert (looked.status, looked.token.ends_at) == (TokenStatus.ACTIVE, at(120))
    assert await backend.queue.extend_active(C1, active[0], at(200), at(100)) is True
    looked = await backend.queue.look(C1, active[0], at(150))
    assert looked is not None
    assert (looked.status, looked.token.ends_at) == (TokenStatus.ACTIVE, at(200))
    assert await status_of(backend, active[0], at(201)) is TokenStatus.EXPIRED


async def test_extend_active_refuses_waiting_ended_and_lapsed_tokens(backend: Backend) -> None:
    active = await fill_capacity(backend)
    (waiting,) = await issue_many(backend, 1, now=at(1))
    await backend.queue.expire(C1, active[1], at(2))
    assert await backend.queue.extend_active(C1, waiting, at(500), at(3)) is False
    assert await backend.queue.extend_active(C1, active[1], at(500), at(3)) is False
    assert await backend.queue.extend_active(C1, active[0], at(500), at(121)) is False
    assert await backend.queue.extend_active(C1, new_token_id(), at(500), at(3)) is False
    assert await status_of(backend, waiting, at(3)) is TokenStatus.WAITING
    assert await status_of(backend, active[0], at(121)) is TokenStatus.EXPIRED


async def test_concurrent_calls_are_each_judged_at_their_own_instant(
    backend: Backend,
) -> None:
    first, second = await issue_many(backend, 2)  # both seen at T0
    idle = backend.policy.idle_timeout.total_seconds()
    before, after = await asyncio.gather(
        backend.queue.poll(C1, first, at(idle - 1)),
        backend.queue.poll(C1, second, at(idle + 1)),
    )
    assert before is not None and before.status is TokenStatus.WAITING
    assert after is not None and after.status is TokenStatus.EXPIRED
    active = await fill_capacity(backend, C2)  # ACTIVE until 120
    extended = await asyncio.gather(
        backend.queue.extend_active(C2, active[0], at(300), at(119)),
        backend.queue.extend_active(C2, active[1], at(300), at(121)),
    )
    assert extended == [True, False]


async def test_concurrent_expiries_end_each_token_once(backend: Backend) -> None:
    first, second = await issue_many(backend, 2)
    ended = await asyncio.gather(
        backend.queue.expire(C1, first, at(1)),
        backend.queue.expire(C1, first, at(1)),
        backend.queue.expire(C1, second, at(1)),
        backend.queue.expire(C1, new_token_id(), at(1)),
    )
    firsts = [t for t in ended[:2] if t is not None]
    assert [t.token_id for t in firsts] == [first]
    assert firsts[0].status is TokenStatus.WAITING  # as it was before
    assert ended[2] is not None and ended[2].token_id == second
    assert ended[3] is None
    assert (await backend.queue.stats(C1, at(1))).waiting == 0


async def test_concurrent_extensions_answer_each_caller_as_if_alone(backend: Backend) -> None:
    active = await fill_capacity(backend)  # ACTIVE until 120
    (waiting,) = await issue_many(backend, 1, now=at(1))
    answers = await asyncio.gather(
        backend.queue.extend_active(C1, active[0], at(300), at(10)),
        backend.queue.extend_active(C1, active[1], at(60), at(10)),
        backend.queue.extend_active(C1, active[2], at(900), at(10)),
        backend.queue.extend_active(C1, waiting, at(500), at(10)),
        backend.queue.extend_active(C1, new_token_id(), at(500), at(10)),
    )
    assert answers == [True, True, True, False, False]
    until = [(await backend.queue.look(C1, t, at(20))) for t in active]
    assert [p.token.ends_at for p in until if p is not None] == [at(300), at(120), at(900)]
    assert await status_of(backend, waiting, at(20)) is TokenStatus.WAITING


# -- sweeping, stats and the admission rate -----------------------------------------


async def test_expire_lapsed_returns_the_lapsed_tokens_as_they_were_before(
    backend: Backend,
) -> None:
    active = await fill_capacity(backend)
    await backend.queue.extend_active(C1, active[2], at(300), at(1))
    waiting = await issue_many(backend, 2, now=at(100))
    await issue_many(backend, 1, C2, now=at(150))
    await backend.queue.poll(C1, waiting[1], at(150))
    ended = await backend.queue.expire_lapsed(C1, at(161), 100)

    by_id = {t.token_id: t for t in ended}
    assert set(by_id) == {active[0], active[1], waiting[0]}
    assert by_id[active[0]].status is TokenStatus.ACTIVE
    assert by_id[waiting[0]].status is TokenStatus.WAITING
    assert await backend.queue.expire_lapsed(C1, at(161), 100) == []
    assert counts(await backend.queue.stats(C1, at(161))) == (1, 1)
    assert counts(await backend.queue.stats(C2, at(161))) == (1, 0)


async def test_stats_count_live_waiting_and_active_tokens_at_the_instant(
    backend: Backend,
) -> None:
    assert counts(await backend.queue.stats(C1, T0)) == (0, 0)
    active = await fill_capacity(backend)
    await issue_many(backend, 2, now=at(1))
    await issue_many(backend, 1, now=at(30))
    await backend.queue.expire(C1, active[0], at(31))
    assert counts(await backend.queue.stats(C1, at(31))) == (3, 2)
    assert counts(await backend.queue.stats(C1, at(62))) == (1, 2)
    assert counts(await backend.queue.stats(C1, at(121))) == (0, 0)


async def test_a_place_carries_its_concerts_admissions_per_second_within_the_window(
    backend: Backend,
) -> None:
    window = backend.policy.admission_rate_window.total_seconds()
    elsewhere = (await issue(backend, C2, T0)).place
    assert elsewhere.admission_rate == 0
    active = await fill_capacity(backend)  # 3 admitted at T0
    await issue_many(backend, 1, now=at(10))
    await backend.queue.expire(C1, active[0], at(10))
    assert len(await backend.queue.admit(C1, at(20))) == 1

    async def rate(concert_id: ConcertId, token_id: TokenId, now: dt.datetime) -> float:
        place = await backend.queue.look(concert_id, token_id, now)
        assert place is not None
        polled = await backend.queue.poll(concert_id, token_id, now)
        assert polled is not None
        assert polled.admission_rate == place.admission_rate
        return place.admission_rate

    assert await rate(C1, active[1], at(30)) == 4 / window
    assert await rate(C2, elsewhere.token.token_id, at(30)) == 0
    # Admissions older than the window are forgotten.
    assert await rate(C1, active[1], at(window + 1)) == 1 / window
    assert await rate(C1, active[1], at(window + 21)) == 0


# -- many at once -------------------------------------------------------------------


async def test_concurrent_admission_passes_never_exceed_the_capacity(backend: Backend) -> None:
    ids = await issue_many(backend, 20)
    passes = await asyncio.gather(*(backend.queue.admit(C1, at(1)) for _ in range(10)))
    admitted = [t.token_id for batch in passes for t in batch]
    assert sorted(admitted) == sorted(ids[:3])
    assert len(admitted) == len(set(admitted))
    assert (await backend.queue.stats(C1, at(1))).active == backend.policy.active_capacity


async def test_concurrent_issues_by_distinct_users_get_unique_sequences(
    backend: Backend,
) -> None:
    outcomes = await asyncio.gather(*(issue(backend, now=at(1)) for _ in range(30)))
    sequences = [o.place.token.sequence for o in outcomes]
    assert len(set(sequences)) == 30
    assert all(o.created for o in outcomes)
    positions = [await position_of(backend, o.place.token.token_id, at(2)) for o in outcomes]
    by_sequence = [p for _, p in sorted(zip(sequences, positions, strict=True))]
    assert by_sequence == list(range(1, 31))


async def test_concurrent_issues_by_the_same_user_return_one_token(backend: Backend) -> None:
    user = new_user()
    outcomes = await asyncio.gather(*(issue(backend, now=at(1), user=user) for _ in range(10)))
    assert len({o.place.token.token_id for o in outcomes}) == 1
    assert len({o.place.token.sequence for o in outcomes}) == 1
    assert sum(o.created for o in outcomes) == 1
    assert (await backend.queue.stats(C1, at(1))).waiting == 1


async def test_tokens_handed_out_are_copies_not_the_stored_state(backend: Backend) -> None:
    outcome = await issue(backend)
    token: QueueToken = outcome.place.token
    token.status = TokenStatus.ACTIVE
    token.active_until = at(10_000)
    assert await status_of(backend, token.token_id, at(1)) is TokenStatus.WAITING
    assert (await backend.queue.stats(C1, at(1))).active == 0


async def test_concurrent_polls_and_looks_answer_each_caller_as_if_alone(
    backend: Backend,
) -> None:
    ids = await issue_many(backend, 6)
    other = (await issue(backend, concert_id=C2)).place.token.token_id
    unknown = new_token_id()
    places = await asyncio.gather(
        *(backend.queue.poll(C1, t, at(1)) for t in ids[:3]),
        *(backend.queue.look(C1, t, at(1)) for t in ids[3:]),
        backend.queue.poll(C1, unknown, at(1)),
        backend.queue.look(C1, unknown, at(1)),
        backend.queue.poll(C2, other, at(1)),
        backend.queue.poll(C1, other, at(1)),
    )
    *mine, unknown_polled, unknown_looked, in_c2, c2_token_in_c1 = places
    assert [(p.token.token_id, p.status, p.position) for p in mine if p is not None] == [
        (t, TokenStatus.WAITING, n) for n, t in enumerate(ids, start=1)
    ]
    assert unknown_polled is None and unknown_looked is None
    assert in_c2 is not None and (in_c2.token.token_id, in_c2.position) == (other, 1)
    assert c2_token_in_c1 is None
    # The polls kept their tokens' places; the looks did not: at the idle timeout
    # after the first sighting, only the polled tokens are still waiting.
    idle_end = T0 + backend.policy.idle_timeout
    statuses = [await status_of(backend, t, idle_end) for t in ids]
    assert statuses == [TokenStatus.WAITING] * 3 + [TokenStatus.EXPIRED] * 3
