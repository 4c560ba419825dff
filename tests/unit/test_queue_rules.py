"""docs/contract.md §3, Queue: the waiting room through the use cases, on memory adapters."""

from __future__ import annotations

import datetime as dt
import math
import uuid

import pytest

from adapters.clock import ManualClock
from adapters.memory import MemoryUnitOfWork, MemoryUnitOfWorkFactory
from adapters.tokens import JwtTokenCodec
from concert_core import ConcertService, Policy
from concert_core.domain import (
    Concert,
    NotFoundError,
    TokenClaims,
    TokenId,
    TokenInvalidError,
    TokenNotActiveError,
)
from concert_core.use_cases import (
    Admission,
    ChargeCommand,
    IssuedToken,
    IssueTokenCommand,
    ListDatesQuery,
    PayCommand,
)
from support import (
    TEST_SECRET,
    MemoryKit,
    active_token,
    hold,
    new_user,
    schedule,
    seat_status,
)

CODEC = JwtTokenCodec(TEST_SECRET)


@pytest.fixture
def policy() -> Policy:
    return Policy(
        active_capacity=2,
        active_ttl=dt.timedelta(seconds=600),
        hold_ttl=dt.timedelta(seconds=300),
        idle_timeout=dt.timedelta(seconds=300),
        admission_rate_window=dt.timedelta(seconds=60),
    )


async def enter(service: ConcertService, concert: Concert, count: int) -> list[IssuedToken]:
    return [
        await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id))
        for _ in range(count)
    ]


async def statuses(service: ConcertService, tickets: list[IssuedToken]) -> list[str]:
    return [(await service.queue_status(t.token)).status for t in tickets]


async def positions(service: ConcertService, tickets: list[IssuedToken]) -> list[int | None]:
    return [(await service.queue_status(t.token)).position for t in tickets]


# -- issuing: one token and one place per user and concert -----------------------------


async def test_a_first_token_is_waiting_at_position_one(
    service: ConcertService, concert: Concert
) -> None:
    ticket = await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id))
    assert ticket.created is True
    assert ticket.view.status == "WAITING"
    assert ticket.view.position == 1
    assert ticket.view.active_until is None


async def test_position_is_one_based_and_counts_the_waiting_tokens_ahead(
    service: ConcertService, concert: Concert
) -> None:
    tickets = await enter(service, concert, 4)
    assert [t.view.position for t in tickets] == [1, 2, 3, 4]
    assert await positions(service, tickets) == [1, 2, 3, 4]


async def test_asking_again_while_waiting_returns_the_same_token_and_place(
    service: ConcertService, concert: Concert
) -> None:
    user = new_user()
    await enter(service, concert, 2)
    first = await service.issue_token(IssueTokenCommand(user, concert.concert_id))
    await enter(service, concert, 2)
    again = await service.issue_token(IssueTokenCommand(user, concert.concert_id))
    assert again.created is False
    assert again.view.position == first.view.position == 3
    assert CODEC.decode(again.token) == CODEC.decode(first.token)


async def test_asking_again_while_active_returns_the_same_active_token(
    service: ConcertService, concert: Concert
) -> None:
    user = new_user()
    first = await active_token(service, concert.concert_id, user)
    again = await service.issue_token(IssueTokenCommand(user, concert.concert_id))
    assert again.created is False
    assert again.view.status == "ACTIVE"
    assert CODEC.decode(again.token) == CODEC.decode(first.token)


async def test_a_later_token_of_a_concert_has_a_higher_sequence_whatever_came_between(
    service: ConcertService, concert: Concert
) -> None:
    other = await schedule(service)
    sequences = []
    for concert_id in (concert.concert_id, other.concert_id, concert.concert_id):
        ticket = await service.issue_token(IssueTokenCommand(new_user(), concert_id))
        sequences.append(CODEC.decode(ticket.token).sequence)
    assert sequences[0] < sequences[2]


async def test_one_user_has_a_separate_place_in_each_concerts_line(
    service: ConcertService, concert: Concert
) -> None:
    other = await schedule(service)
    user = new_user()
    here = await service.issue_token(IssueTokenCommand(user, concert.concert_id))
    there = await service.issue_token(IssueTokenCommand(user, other.concert_id))
    assert here.created is there.created is True
    assert CODEC.decode(here.token).token_id != CODEC.decode(there.token).token_id
    assert (here.view.concert_id, there.view.concert_id) == (
        concert.concert_id,
        other.concert_id,
    )


async def test_a_new_token_after_leaving_goes_to_the_back_of_the_line(
    service: ConcertService, concert: Concert
) -> None:
    user = new_user()
    first = await service.issue_token(IssueTokenCommand(user, concert.concert_id))
    behind = await enter(service, concert, 2)
    await service.leave_queue(first.token)
    again = await service.issue_token(IssueTokenCommand(user, concert.concert_id))
    assert again.created is True
    assert again.view.position == 3
    assert CODEC.decode(again.token).sequence > CODEC.decode(behind[-1].token).sequence
    assert await positions(service, behind) == [1, 2]


async def test_a_new_token_after_the_active_time_ended_goes_to_the_back(
    service: ConcertService, concert: Concert, clock: ManualClock, policy: Policy
) -> None:
    user = new_user()
    first = await active_token(service, concert.concert_id, user)
    clock.advance(policy.active_ttl)
    waiting = await enter(service, concert, 1)
    again = await service.issue_token(IssueTokenCommand(user, concert.concert_id))
    assert (await service.queue_status(first.token)).status == "EXPIRED"
    assert again.created is True
    assert again.view.status == "WAITING"
    assert again.view.position == 2
    assert (await service.queue_status(waiting[0].token)).position == 1


async def test_an_unknown_concert_has_no_waiting_room(service: ConcertService) -> None:
    with pytest.raises(NotFoundError) as raised:
        await service.issue_token(IssueTokenCommand(new_user(), 999))
    assert raised.value.code == "NOT_FOUND"


# -- admission ---------------------------------------------------------------------------


async def test_admission_never_exceeds_the_active_capacity(
    service: ConcertService, concert: Concert
) -> None:
    tickets = await enter(service, concert, 5)
    report = await service.admit_waiting(concert.concert_id)
    again = await service.admit_waiting(concert.concert_id)
    assert report == [Admission(concert.concert_id, 2)]
    assert again == [Admission(concert.concert_id, 0)]
    assert (await statuses(service, tickets)).count("ACTIVE") == 2


async def test_admission_lets_the_earliest_tokens_in_first(
    service: ConcertService, concert: Concert
) -> None:
    tickets = await enter(service, concert, 4)
    await service.admit_waiting(concert.concert_id)
    assert await statuses(service, tickets) == ["ACTIVE", "ACTIVE", "WAITING", "WAITING"]
    assert await positions(service, tickets) == [None, None, 1, 2]


async def test_a_freed_place_goes_to_the_earliest_waiting_token(
    service: ConcertService, concert: Concert
) -> None:
    tickets = await enter(service, concert, 4)
    await service.admit_waiting(concert.concert_id)
    await service.leave_queue(tickets[0].token)
    await service.admit_waiting(concert.concert_id)
    assert await statuses(service, tickets) == ["EXPIRED", "ACTIVE", "ACTIVE", "WAITING"]
    assert (await service.queue_status(tickets[3].token)).position == 1


async def test_an_admission_pass_over_all_concerts_reports_each_one(
    service: ConcertService, concert: Concert
) -> None:
    other = await schedule(service)
    await enter(service, concert, 3)
    await enter(service, other, 1)
    report = await service.admit_waiting()
    assert sorted(report, key=lambda a: a.concert_id) == [
        Admission(concert.concert_id, 2),
        Admission(other.concert_id, 1),
    ]


async def test_admitting_an_unknown_concert_is_not_found(service: ConcertService) -> None:
    with pytest.raises(NotFoundError):
        await service.admit_waiting(999)


# -- active time -------------------------------------------------------------------------


async def test_an_active_token_lasts_the_active_ttl_from_admission(
    service: ConcertService, concert: Concert, clock: ManualClock, policy: Policy
) -> None:
    ticket = await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id))
    admitted_at = clock.advance(7)
    await service.admit_waiting(concert.concert_id)
    view = await service.queue_status(ticket.token)
    assert view.status == "ACTIVE"
    assert view.active_until == admitted_at + policy.active_ttl
    clock.advance(policy.active_ttl - dt.timedelta(seconds=1))
    assert (await service.queue_status(ticket.token)).status == "ACTIVE"
    clock.advance(1)
    expired = await service.queue_status(ticket.token)
    assert expired.status == "EXPIRED"
    assert expired.active_until is None


@pytest.mark.parametrize("policy", [Policy(active_capacity=2, active_ttl=dt.timedelta(seconds=60))])
async def test_the_end_of_active_time_frees_the_place_for_the_next_in_line(
    service: ConcertService, concert: Concert, clock: ManualClock, policy: Policy
) -> None:
    tickets = await enter(service, concert, 3)
    await service.admit_waiting(concert.concert_id)
    clock.advance(policy.active_ttl)
    await service.admit_waiting(concert.concert_id)
    assert await statuses(service, tickets) == ["EXPIRED", "EXPIRED", "ACTIVE"]


@pytest.mark.parametrize(
    "policy",
    [Policy(active_ttl=dt.timedelta(seconds=60), hold_ttl=dt.timedelta(seconds=300))],
)
async def test_holding_a_seat_extends_the_active_token_to_the_hold_expiry(
    service: ConcertService, concert: Concert, clock: ManualClock, policy: Policy
) -> None:
    ticket = await active_token(service, concert.concert_id)
    clock.advance(10)
    reservation = await hold(service, ticket.token, concert.concert_id, 1)
    view = await service.queue_status(ticket.token)
    assert reservation.held_until is not None
    assert view.active_until == reservation.held_until
    clock.advance(policy.active_ttl)  # past the plain active time
    assert (await service.queue_status(ticket.token)).status == "ACTIVE"
    await service.charge_wallet(ChargeCommand(ticket.view.user_id, 1_000_000))
    receipt = await service.pay(PayCommand(ticket.token, [reservation.reservation_id]))
    assert receipt.amount == reservation.price


async def test_holding_a_seat_never_shortens_an_active_token(
    service: ConcertService, concert: Concert, clock: ManualClock
) -> None:
    ticket = await active_token(service, concert.concert_id)
    before = (await service.queue_status(ticket.token)).active_until
    clock.advance(5)
    reservation = await hold(service, ticket.token, concert.concert_id, 1)
    after = (await service.queue_status(ticket.token)).active_until
    assert before is not None and reservation.held_until is not None
    assert reservation.held_until < before
    assert after == before


# -- idle waiting tokens -----------------------------------------------------------------


@pytest.mark.parametrize("policy", [Policy(idle_timeout=dt.timedelta(seconds=30))])
async def test_a_waiting_token_not_polled_for_the_idle_timeout_expires(
    service: ConcertService, concert: Concert, clock: ManualClock
) -> None:
    [ticket] = await enter(service, concert, 1)
    clock.advance(29)
    assert (await service.queue_status(ticket.token)).status == "WAITING"
    clock.advance(30)
    view = await service.queue_status(ticket.token)
    assert view.status == "EXPIRED"
    assert view.position is None


@pytest.mark.parametrize(
    "policy", [Policy(active_capacity=1, idle_timeout=dt.timedelta(seconds=30))]
)
async def test_users_behind_an_idle_token_move_up_after_the_expiry_pass(
    service: ConcertService, concert: Concert, clock: ManualClock
) -> None:
    tickets = await enter(service, concert, 3)
    clock.advance(20)
    await service.queue_status(tickets[1].token)
    await service.queue_status(tickets[2].token)
    clock.advance(11)  # the first has been idle 31 s, the others 11 s
    report = await service.expire_lapsed()
    assert report.tokens_expired == 1
    assert await positions(service, tickets[:0:-1]) == [2, 1]  # without asking the idle one
    assert await statuses(service, tickets) == ["EXPIRED", "WAITING", "WAITING"]


@pytest.mark.parametrize(
    "policy", [Policy(active_capacity=1, idle_timeout=dt.timedelta(seconds=30))]
)
async def test_users_behind_an_idle_token_move_up_after_an_admission_pass(
    service: ConcertService, concert: Concert, clock: ManualClock
) -> None:
    holder = await active_token(service, concert.concert_id)
    tickets = await enter(service, concert, 3)
    clock.advance(20)
    for ticket in (holder, tickets[0], tickets[2]):
        await service.queue_status(ticket.token)
    clock.advance(11)  # the second in line has been idle 31 s
    assert await service.admit_waiting(concert.concert_id) == [Admission(concert.concert_id, 0)]
    assert (await service.queue_status(tickets[2].token)).position == 2  # asked first
    assert await positions(service, tickets) == [1, None, 2]


@pytest.mark.parametrize(
    "policy", [Policy(active_capacity=1, idle_timeout=dt.timedelta(seconds=30))]
)
async def test_an_idle_waiting_token_is_never_admitted(
    service: ConcertService, concert: Concert, clock: ManualClock
) -> None:
    tickets = await enter(service, concert, 2)
    clock.advance(20)
    await service.queue_status(tickets[1].token)
    clock.advance(15)
    report = await service.admit_waiting(concert.concert_id)
    assert report == [Admission(concert.concert_id, 1)]
    assert await statuses(service, tickets) == ["EXPIRED", "ACTIVE"]


@pytest.mark.parametrize("policy", [Policy(idle_timeout=dt.timedelta(seconds=30))])
async def test_polling_keeps_a_waiting_token_in_line(
    service: ConcertService, concert: Concert, clock: ManualClock
) -> None:
    [ticket] = await enter(service, concert, 1)
    for _ in range(10):
        clock.advance(20)
        assert (await service.queue_status(ticket.token)).status == "WAITING"
    await service.expire_lapsed()
    view = await service.queue_status(ticket.token)
    assert (view.status, view.position) == ("WAITING", 1)


@pytest.mark.parametrize("policy", [Policy(idle_timeout=dt.timedelta(seconds=30))])
async def test_asking_for_the_token_again_counts_as_a_poll(
    service: ConcertService, concert: Concert, clock: ManualClock
) -> None:
    user = new_user()
    first = await service.issue_token(IssueTokenCommand(user, concert.concert_id))
    clock.advance(20)
    again = await service.issue_token(IssueTokenCommand(user, concert.concert_id))
    clock.advance(20)
    assert again.created is False
    assert (await service.queue_status(first.token)).status == "WAITING"


# -- leaving -------------------------------------------------------------------------------


async def test_leaving_expires_the_token_and_frees_an_active_place(
    service: ConcertService, concert: Concert
) -> None:
    tickets = await enter(service, concert, 3)
    await service.admit_waiting(concert.concert_id)
    await service.leave_queue(tickets[1].token)
    assert (await service.queue_status(tickets[1].token)).status == "EXPIRED"
    assert await service.admit_waiting(concert.concert_id) == [Admission(concert.concert_id, 1)]
    assert (await service.queue_status(tickets[2].token)).status == "ACTIVE"


async def test_leaving_the_line_while_waiting_moves_the_people_behind_up(
    service: ConcertService, concert: Concert
) -> None:
    tickets = await enter(service, concert, 3)
    await service.leave_queue(tickets[0].token)
    assert await positions(service, tickets[1:]) == [1, 2]


async def test_leaving_with_an_expired_token_is_token_not_active(
    service: ConcertService, concert: Concert
) -> None:
    [ticket] = await enter(service, concert, 1)
    await service.leave_queue(ticket.token)
    with pytest.raises(TokenNotActiveError) as raised:
        await service.leave_queue(ticket.token)
    assert raised.value.code == "TOKEN_NOT_ACTIVE"
    assert raised.value.token_status == "EXPIRED"
    assert raised.value.position is None


async def test_leaving_releases_the_users_unpaid_holds_at_once(
    service: ConcertService, concert: Concert
) -> None:
    leaver = await active_token(service, concert.concert_id)
    other = await active_token(service, concert.concert_id)
    reservation = await hold(service, leaver.token, concert.concert_id, 1)
    assert await seat_status(service, other.token, concert.concert_id, 1) == "HELD"
    await service.leave_queue(leaver.token)
    assert await seat_status(service, other.token, concert.concert_id, 1) == "AVAILABLE"
    view = await service.get_reservation(leaver.token, reservation.reservation_id)
    assert view.status == "RELEASED"


async def test_the_expiry_pass_releases_the_holds_of_a_token_whose_active_time_ended(
    service: ConcertService, concert: Concert, clock: ManualClock, policy: Policy
) -> None:
    holder = await active_token(service, concert.concert_id)
    reservation = await hold(service, holder.token, concert.concert_id, 1)
    clock.advance(policy.active_ttl)
    report = await service.expire_lapsed()
    assert report.tokens_expired == 1
    assert report.holds_released == 1
    view = await service.get_reservation(holder.token, reservation.reservation_id)
    assert view.status == "RELEASED"
    observer = await active_token(service, concert.concert_id)
    assert await seat_status(service, observer.token, concert.concert_id, 1) == "AVAILABLE"


async def test_an_expiry_pass_with_nothing_lapsed_changes_nothing(
    service: ConcertService, concert: Concert
) -> None:
    holder = await active_token(service, concert.concert_id)
    waiting = await enter(service, concert, 1)
    reservation = await hold(service, holder.token, concert.concert_id, 1)
    report = await service.expire_lapsed()
    assert (report.tokens_expired, report.holds_released) == (0, 0)
    assert await statuses(service, [holder, *waiting]) == ["ACTIVE", "WAITING"]
    view = await service.get_reservation(holder.token, reservation.reservation_id)
    assert view.status == "HELD"


# -- estimated wait and polling hint --------------------------------------------------------


async def test_the_estimated_wait_falls_back_to_position_times_ttl_over_capacity(
    service: ConcertService, concert: Concert, policy: Policy
) -> None:
    tickets = await enter(service, concert, 3)
    per_place = policy.active_ttl.total_seconds() / policy.active_capacity
    waits = [(await service.queue_status(t.token)).estimated_wait_seconds for t in tickets]
    assert waits == [math.ceil(p * per_place) for p in (1, 2, 3)]


async def test_the_estimated_wait_follows_the_observed_admission_rate(
    service: ConcertService, concert: Concert, clock: ManualClock, policy: Policy
) -> None:
    tickets = await enter(service, concert, 5)
    await service.admit_waiting(concert.concert_id)  # 2 admitted in a 60 s window
    waits = [(await service.queue_status(t.token)).estimated_wait_seconds for t in tickets[2:]]
    assert waits == [30, 60, 90]  # one place every 30 s
    clock.advance(policy.admission_rate_window + dt.timedelta(seconds=1))
    waits = [(await service.queue_status(t.token)).estimated_wait_seconds for t in tickets[2:]]
    assert waits == [300, 600, 900]  # nothing observed lately: the fallback again


async def test_an_active_token_has_no_position_and_no_wait(
    service: ConcertService, concert: Concert
) -> None:
    ticket = await active_token(service, concert.concert_id)
    view = await service.queue_status(ticket.token)
    assert (view.status, view.position, view.estimated_wait_seconds) == ("ACTIVE", None, 0)
    assert view.active_until is not None


async def test_every_status_reply_carries_a_polling_hint(
    service: ConcertService, concert: Concert, policy: Policy
) -> None:
    tickets = await enter(service, concert, 3)
    await service.admit_waiting(concert.concert_id)
    await service.leave_queue(tickets[0].token)
    ceiling = policy.idle_timeout.total_seconds() / 3
    views = [await service.queue_status(t.token) for t in tickets]
    assert [v.status for v in views] == ["EXPIRED", "ACTIVE", "WAITING"]
    for view in views:
        assert 1 <= view.poll_after_seconds <= ceiling


@pytest.mark.parametrize("policy", [Policy(active_capacity=1)])
async def test_the_polling_hint_grows_with_the_position(
    service: ConcertService, concert: Concert
) -> None:
    tickets = await enter(service, concert, 150)
    front = await service.queue_status(tickets[0].token)
    back = await service.queue_status(tickets[-1].token)
    assert back.position == 150
    assert front.poll_after_seconds == 1
    assert back.poll_after_seconds > front.poll_after_seconds


@pytest.mark.parametrize("policy", [Policy(idle_timeout=dt.timedelta(seconds=3))])
async def test_the_polling_hint_never_exceeds_a_third_of_the_idle_timeout(
    service: ConcertService, concert: Concert
) -> None:
    tickets = await enter(service, concert, 150)
    assert (await service.queue_status(tickets[-1].token)).poll_after_seconds == 1
    active = await active_token(service, concert.concert_id, tickets[0].view.user_id)
    assert (await service.queue_status(active.token)).poll_after_seconds == 1


# -- tokens the queue does not know -----------------------------------------------------------


async def test_a_malformed_token_is_token_invalid(service: ConcertService) -> None:
    with pytest.raises(TokenInvalidError) as raised:
        await service.queue_status("not-a-token")
    assert raised.value.code == "TOKEN_INVALID"


async def test_a_token_signed_with_another_secret_is_token_invalid(
    service: ConcertService, concert: Concert
) -> None:
    [ticket] = await enter(service, concert, 1)
    forged = JwtTokenCodec("another-secret-" + "y" * 32).encode(CODEC.decode(ticket.token))
    with pytest.raises(TokenInvalidError):
        await service.queue_status(forged)


async def test_a_well_signed_token_the_queue_never_issued_is_token_invalid(
    service: ConcertService, concert: Concert
) -> None:
    claims = TokenClaims(TokenId(uuid.uuid4()), new_user(), concert.concert_id, 1)
    with pytest.raises(TokenInvalidError):
        await service.queue_status(CODEC.encode(claims))


async def test_a_token_whose_claims_differ_from_the_stored_token_is_token_invalid(
    service: ConcertService, concert: Concert
) -> None:
    [ticket] = await enter(service, concert, 1)
    claims = CODEC.decode(ticket.token)
    for altered in (
        TokenClaims(claims.token_id, new_user(), claims.concert_id, claims.sequence),
        TokenClaims(claims.token_id, claims.user_id, claims.concert_id, claims.sequence + 1),
    ):
        with pytest.raises(TokenInvalidError):
            await service.queue_status(CODEC.encode(altered))
        with pytest.raises(TokenInvalidError):
            await service.list_dates(ListDatesQuery(CODEC.encode(altered), concert.concert_id))


async def test_a_stampede_of_token_requests_reads_the_catalogue_once_per_concert(
    policy: Policy, clock: ManualClock, kit: MemoryKit
) -> None:
    class Counting(MemoryUnitOfWorkFactory):
        opened = 0

        def __call__(self) -> MemoryUnitOfWork:
            Counting.opened += 1
            return super().__call__()

    service = ConcertService.build(
        uow_factory=Counting(kit.db),
        queue=kit.queue,
        idempotency=kit.idempotency,
        codec=kit.codec,
        clock=clock,
        policy=policy,
    )
    concert = await schedule(service)
    Counting.opened = 0
    tickets = [
        await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id))
        for _ in range(20)
    ]
    assert [t.view.position for t in tickets] == list(range(1, 21))
    assert Counting.opened == 1


async def test_a_concert_not_found_is_not_remembered_as_missing(service: ConcertService) -> None:
    with pytest.raises(NotFoundError):
        await service.issue_token(IssueTokenCommand(new_user(), 1))
    concert = await schedule(service)
    assert concert.concert_id == 1
    ticket = await service.issue_token(IssueTokenCommand(new_user(), 1))
    assert ticket.created
