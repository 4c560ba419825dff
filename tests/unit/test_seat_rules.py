"""docs/contract.md §3, Seats and holds: browsing dates and seats, holding, releasing, reading."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from adapters.clock import ManualClock
from adapters.memory import MemoryQueueStore
from concert_core import ConcertService, Policy
from concert_core.domain import (
    Concert,
    ConcertId,
    HoldExpiredError,
    HoldLimitReachedError,
    NotFoundError,
    NotOwnerError,
    ReservationId,
    SeatUnavailableError,
    ServiceUnavailableError,
    TokenId,
    TokenInvalidError,
    TokenNotActiveError,
)
from concert_core.use_cases import (
    ChargeCommand,
    HoldSeatCommand,
    IssueTokenCommand,
    ListDatesQuery,
    ListSeatsQuery,
    PayCommand,
    ScheduleConcertCommand,
    tiered_prices,
)
from support import (
    DATES,
    active_token,
    build_memory_service,
    hold,
    new_user,
    schedule,
    seat_status,
)

PRICES = tiered_prices(100_000)


# -- dates and seats -------------------------------------------------------------------


async def test_concerts_are_listed_without_a_token(
    service: ConcertService, concert: Concert
) -> None:
    other = await schedule(service)
    listed = await service.list_concerts()
    assert [(c.concert_id, c.title, c.venue) for c in listed] == [
        (c.concert_id, c.title, c.venue) for c in (concert, other)
    ]
    assert concert.title == "Winter Lights"
    assert concert.venue.startswith("Olympic Hall")


async def test_dates_are_listed_ascending_with_their_available_seats(
    service: ConcertService,
) -> None:
    days = ["2026-12-31", "2026-12-24", "2026-12-25"]
    concert = await service.schedule_concert(
        ScheduleConcertCommand("Countdown", "Dome", days, PRICES)
    )
    ticket = await active_token(service, concert.concert_id)
    dates = await service.list_dates(ListDatesQuery(ticket.token, concert.concert_id))
    assert [d.date.isoformat() for d in dates] == sorted(days)
    assert all(d.available_seats == 50 for d in dates)


async def test_a_held_seat_is_not_counted_as_available_in_the_dates(
    service: ConcertService, concert: Concert
) -> None:
    ticket = await active_token(service, concert.concert_id)
    await hold(service, ticket.token, concert.concert_id, 7)
    dates = await service.list_dates(ListDatesQuery(ticket.token, concert.concert_id))
    assert [(d.date, d.available_seats) for d in dates] == [(DATES[0], 49), (DATES[1], 50)]


@pytest.mark.parametrize("policy", [Policy(max_holds_per_user=50)])
async def test_a_date_without_available_seats_is_not_listed_until_its_holds_lapse(
    service: ConcertService, concert: Concert, clock: ManualClock, policy: Policy
) -> None:
    ticket = await active_token(service, concert.concert_id)
    for seat_no in range(1, 51):
        await hold(service, ticket.token, concert.concert_id, seat_no)
    dates = await service.list_dates(ListDatesQuery(ticket.token, concert.concert_id))
    assert [d.date for d in dates] == [DATES[1]]
    clock.advance(policy.hold_ttl)
    fresh = await active_token(service, concert.concert_id)
    dates = await service.list_dates(ListDatesQuery(fresh.token, concert.concert_id))
    assert [(d.date, d.available_seats) for d in dates] == [(DATES[0], 50), (DATES[1], 50)]


async def test_the_seat_map_lists_all_fifty_seats_with_their_prices(
    service: ConcertService, concert: Concert
) -> None:
    ticket = await active_token(service, concert.concert_id)
    seat_map = await service.list_seats(
        ListSeatsQuery(ticket.token, concert.concert_id, "2026-12-24")
    )
    assert seat_map.date == DATES[0]
    assert [s.seat_no for s in seat_map.seats] == list(range(1, 51))
    assert [s.price for s in seat_map.seats] == list(PRICES)
    assert {s.status for s in seat_map.seats} == {"AVAILABLE"}


async def test_only_available_leaves_out_held_and_sold_seats(
    service: ConcertService, concert: Concert
) -> None:
    buyer = await active_token(service, concert.concert_id)
    holder = await active_token(service, concert.concert_id)
    sold = await hold(service, buyer.token, concert.concert_id, 1)
    await hold(service, holder.token, concert.concert_id, 2)
    await service.charge_wallet(ChargeCommand(buyer.view.user_id, 1_000_000))
    await service.pay(PayCommand(buyer.token, [sold.reservation_id]))
    query = ListSeatsQuery(holder.token, concert.concert_id, DATES[0])
    everything = await service.list_seats(query)
    assert [s.status for s in everything.seats[:3]] == ["SOLD", "HELD", "AVAILABLE"]
    available = await service.list_seats(
        ListSeatsQuery(holder.token, concert.concert_id, DATES[0], only_available=True)
    )
    assert [s.seat_no for s in available.seats] == list(range(3, 51))


async def test_the_seats_of_an_unknown_date_are_not_found(
    service: ConcertService, concert: Concert
) -> None:
    ticket = await active_token(service, concert.concert_id)
    with pytest.raises(NotFoundError) as raised:
        await service.list_seats(ListSeatsQuery(ticket.token, concert.concert_id, "2027-01-01"))
    assert raised.value.code == "NOT_FOUND"


# -- holding -----------------------------------------------------------------------------


async def test_holding_an_available_seat_creates_a_held_reservation(
    service: ConcertService, concert: Concert, clock: ManualClock, policy: Policy
) -> None:
    ticket = await active_token(service, concert.concert_id)
    now = clock.advance(3)
    result = await service.hold_seat(
        HoldSeatCommand(ticket.token, concert.concert_id, DATES[0], 11)
    )
    view = result.reservation
    assert result.created is True
    assert (view.status, view.seat_no, view.date, view.price) == ("HELD", 11, DATES[0], PRICES[10])
    assert view.user_id == ticket.view.user_id
    assert view.concert_id == concert.concert_id
    assert view.held_until == now + policy.hold_ttl
    assert await seat_status(service, ticket.token, concert.concert_id, 11) == "HELD"


async def test_a_held_seat_cannot_be_held_by_someone_else(
    service: ConcertService, concert: Concert
) -> None:
    first = await active_token(service, concert.concert_id)
    second = await active_token(service, concert.concert_id)
    mine = await hold(service, first.token, concert.concert_id, 5)
    with pytest.raises(SeatUnavailableError) as raised:
        await hold(service, second.token, concert.concert_id, 5)
    assert raised.value.code == "SEAT_UNAVAILABLE"
    assert (await service.get_reservation(first.token, mine.reservation_id)).status == "HELD"
    assert await seat_status(service, second.token, concert.concert_id, 5) == "HELD"


async def test_a_hold_is_kept_until_the_last_second_of_its_ttl(
    service: ConcertService, concert: Concert, clock: ManualClock, policy: Policy
) -> None:
    first = await active_token(service, concert.concert_id)
    second = await active_token(service, concert.concert_id)
    await hold(service, first.token, concert.concert_id, 5)
    clock.advance(policy.hold_ttl - dt.timedelta(seconds=1))
    assert await seat_status(service, second.token, concert.concert_id, 5) == "HELD"
    with pytest.raises(SeatUnavailableError):
        await hold(service, second.token, concert.concert_id, 5)


async def test_a_sold_seat_cannot_be_held(service: ConcertService, concert: Concert) -> None:
    buyer = await active_token(service, concert.concert_id)
    reservation = await hold(service, buyer.token, concert.concert_id, 9)
    await service.charge_wallet(ChargeCommand(buyer.view.user_id, 1_000_000))
    await service.pay(PayCommand(buyer.token, [reservation.reservation_id]))
    late = await active_token(service, concert.concert_id)
    with pytest.raises(SeatUnavailableError):
        await hold(service, late.token, concert.concert_id, 9)
    assert await seat_status(service, late.token, concert.concert_id, 9) == "SOLD"


async def test_an_expired_hold_counts_as_available_at_once_without_a_sweeper(
    service: ConcertService, concert: Concert, clock: ManualClock, policy: Policy
) -> None:
    first = await active_token(service, concert.concert_id)
    second = await active_token(service, concert.concert_id)
    lapsed = await hold(service, first.token, concert.concert_id, 5)
    clock.advance(policy.hold_ttl)
    assert await seat_status(service, second.token, concert.concert_id, 5) == "AVAILABLE"
    result = await service.hold_seat(HoldSeatCommand(second.token, concert.concert_id, DATES[0], 5))
    assert result.created is True
    assert result.reservation.user_id == second.view.user_id
    view = await service.get_reservation(first.token, lapsed.reservation_id)
    assert (view.status, view.held_until) == ("RELEASED", None)


async def test_holding_an_unknown_date_is_not_found(
    service: ConcertService, concert: Concert
) -> None:
    ticket = await active_token(service, concert.concert_id)
    with pytest.raises(NotFoundError):
        await hold(service, ticket.token, concert.concert_id, 1, dt.date(2027, 1, 1))


async def test_holding_your_own_seat_again_returns_the_same_hold(
    service: ConcertService, concert: Concert, clock: ManualClock
) -> None:
    ticket = await active_token(service, concert.concert_id)
    command = HoldSeatCommand(ticket.token, concert.concert_id, DATES[0], 3)
    first = await service.hold_seat(command)
    clock.advance(60)
    again = await service.hold_seat(command)
    assert again.created is False
    assert again.reservation == first.reservation  # same id, same expiry
    seat_map = await service.list_seats(ListSeatsQuery(ticket.token, concert.concert_id, DATES[0]))
    assert sum(s.status == "HELD" for s in seat_map.seats) == 1


@pytest.mark.parametrize("policy", [Policy(max_holds_per_user=1)])
async def test_holding_your_own_seat_again_is_not_refused_at_the_hold_limit(
    service: ConcertService, concert: Concert
) -> None:
    ticket = await active_token(service, concert.concert_id)
    first = await hold(service, ticket.token, concert.concert_id, 3)
    again = await hold(service, ticket.token, concert.concert_id, 3)
    assert again.reservation_id == first.reservation_id


@pytest.mark.parametrize("policy", [Policy(max_holds_per_user=2)])
async def test_a_user_holds_at_most_the_limit_per_concert(
    service: ConcertService, concert: Concert
) -> None:
    ticket = await active_token(service, concert.concert_id)
    await hold(service, ticket.token, concert.concert_id, 1)
    await hold(service, ticket.token, concert.concert_id, 2, DATES[1])
    with pytest.raises(HoldLimitReachedError) as raised:
        await hold(service, ticket.token, concert.concert_id, 3)
    assert raised.value.code == "HOLD_LIMIT_REACHED"
    assert await seat_status(service, ticket.token, concert.concert_id, 3) == "AVAILABLE"


@pytest.mark.parametrize("policy", [Policy(max_holds_per_user=1)])
async def test_the_hold_limit_is_counted_per_concert(
    service: ConcertService, concert: Concert
) -> None:
    other = await schedule(service)
    user = new_user()
    here = await active_token(service, concert.concert_id, user)
    there = await active_token(service, other.concert_id, user)
    await hold(service, here.token, concert.concert_id, 1)
    reservation = await hold(service, there.token, other.concert_id, 1)
    assert reservation.status == "HELD"


@pytest.mark.parametrize(
    "policy", [Policy(max_holds_per_user=1, hold_ttl=dt.timedelta(seconds=60))]
)
async def test_a_lapsed_hold_no_longer_counts_towards_the_limit(
    service: ConcertService, concert: Concert, clock: ManualClock
) -> None:
    ticket = await active_token(service, concert.concert_id)
    await hold(service, ticket.token, concert.concert_id, 1)
    clock.advance(60)
    assert (await hold(service, ticket.token, concert.concert_id, 2)).status == "HELD"


@pytest.mark.parametrize("policy", [Policy(max_holds_per_user=1)])
async def test_a_released_hold_no_longer_counts_towards_the_limit(
    service: ConcertService, concert: Concert
) -> None:
    ticket = await active_token(service, concert.concert_id)
    first = await hold(service, ticket.token, concert.concert_id, 1)
    await service.release_hold(ticket.token, first.reservation_id)
    assert (await hold(service, ticket.token, concert.concert_id, 2)).status == "HELD"


class _TokenEndsDuringHold(MemoryQueueStore):
    """A queue where the token ends just as the hold is made (it was left elsewhere)."""

    async def extend_active(
        self, concert_id: ConcertId, token_id: TokenId, until: dt.datetime, now: dt.datetime
    ) -> bool:
        await self.expire(concert_id, token_id, now)
        return await super().extend_active(concert_id, token_id, until, now)


async def test_a_hold_made_as_the_token_ends_is_given_back(
    policy: Policy, clock: ManualClock
) -> None:
    service = build_memory_service(policy, clock, queue=_TokenEndsDuringHold(policy)).service
    concert = await schedule(service)
    ticket = await active_token(service, concert.concert_id)
    with pytest.raises(TokenNotActiveError) as raised:
        await hold(service, ticket.token, concert.concert_id, 1)
    assert raised.value.token_status == "EXPIRED"
    observer = await active_token(service, concert.concert_id)
    assert await seat_status(service, observer.token, concert.concert_id, 1) == "AVAILABLE"


async def test_a_hold_whose_token_cannot_be_extended_is_given_back(
    policy: Policy, clock: ManualClock
) -> None:
    class Unreachable(MemoryQueueStore):
        async def extend_active(self, *args: Any) -> bool:
            raise ServiceUnavailableError("the queue backend is down")

    service = build_memory_service(policy, clock, queue=Unreachable(policy)).service
    concert = await schedule(service)
    ticket = await active_token(service, concert.concert_id)
    with pytest.raises(ServiceUnavailableError):
        await hold(service, ticket.token, concert.concert_id, 3)
    seats = await service.list_seats(ListSeatsQuery(ticket.token, concert.concert_id, DATES[0]))
    assert seats.seats[2].status == "AVAILABLE"


# -- releasing ---------------------------------------------------------------------------


async def test_releasing_a_hold_frees_the_seat_at_once(
    service: ConcertService, concert: Concert
) -> None:
    first = await active_token(service, concert.concert_id)
    second = await active_token(service, concert.concert_id)
    mine = await hold(service, first.token, concert.concert_id, 4)
    released = await service.release_hold(first.token, mine.reservation_id)
    assert (released.status, released.held_until) == ("RELEASED", None)
    assert await seat_status(service, second.token, concert.concert_id, 4) == "AVAILABLE"
    assert (await hold(service, second.token, concert.concert_id, 4)).status == "HELD"


async def test_releasing_a_hold_twice_changes_nothing(
    service: ConcertService, concert: Concert
) -> None:
    first = await active_token(service, concert.concert_id)
    second = await active_token(service, concert.concert_id)
    mine = await hold(service, first.token, concert.concert_id, 4)
    await service.release_hold(first.token, mine.reservation_id)
    theirs = await hold(service, second.token, concert.concert_id, 4)
    again = await service.release_hold(first.token, mine.reservation_id)
    assert again.status == "RELEASED"
    assert (await service.get_reservation(second.token, theirs.reservation_id)).status == "HELD"
    assert await seat_status(service, first.token, concert.concert_id, 4) == "HELD"


async def test_releasing_someone_elses_hold_is_not_owner_and_keeps_it(
    service: ConcertService, concert: Concert
) -> None:
    owner = await active_token(service, concert.concert_id)
    intruder = await active_token(service, concert.concert_id)
    theirs = await hold(service, owner.token, concert.concert_id, 4)
    with pytest.raises(NotOwnerError) as raised:
        await service.release_hold(intruder.token, theirs.reservation_id)
    assert raised.value.code == "NOT_OWNER"
    assert (await service.get_reservation(owner.token, theirs.reservation_id)).status == "HELD"
    assert await seat_status(service, intruder.token, concert.concert_id, 4) == "HELD"


async def test_releasing_a_paid_reservation_is_hold_expired_and_keeps_the_sale(
    service: ConcertService, concert: Concert
) -> None:
    user = new_user()
    buyer = await active_token(service, concert.concert_id, user)
    bought = await hold(service, buyer.token, concert.concert_id, 4)
    await service.charge_wallet(ChargeCommand(user, 1_000_000))
    await service.pay(PayCommand(buyer.token, [bought.reservation_id]))
    again = await active_token(service, concert.concert_id, user)
    with pytest.raises(HoldExpiredError) as raised:
        await service.release_hold(again.token, bought.reservation_id)
    assert raised.value.code == "HOLD_EXPIRED"
    assert (await service.get_reservation(again.token, bought.reservation_id)).status == (
        "CONFIRMED"
    )
    assert await seat_status(service, again.token, concert.concert_id, 4) == "SOLD"


async def test_releasing_an_unknown_reservation_is_not_found(
    service: ConcertService, concert: Concert
) -> None:
    ticket = await active_token(service, concert.concert_id)
    with pytest.raises(NotFoundError):
        await service.release_hold(ticket.token, ReservationId(uuid.uuid4()))


async def test_releasing_needs_an_active_token_for_the_reservations_concert(
    service: ConcertService, concert: Concert
) -> None:
    other = await schedule(service)
    user = new_user()
    here = await active_token(service, concert.concert_id, user)
    there = await active_token(service, other.concert_id, user)
    mine = await hold(service, here.token, concert.concert_id, 4)
    with pytest.raises(TokenNotActiveError) as raised:
        await service.release_hold(there.token, mine.reservation_id)
    assert (raised.value.token_status, raised.value.position) == ("ACTIVE", None)
    assert (await service.get_reservation(here.token, mine.reservation_id)).status == "HELD"


async def test_releasing_with_a_signed_token_the_queue_does_not_know_is_token_invalid(
    service: ConcertService, policy: Policy, clock: ManualClock
) -> None:
    concert = await schedule(service)
    ticket = await active_token(service, concert.concert_id)
    held = await hold(service, ticket.token, concert.concert_id, 5)
    stranger = build_memory_service(policy, clock).service  # same secret, another queue
    await schedule(stranger)
    unknown = await stranger.issue_token(IssueTokenCommand(new_user(), concert.concert_id))
    with pytest.raises(TokenInvalidError):
        await service.release_hold(unknown.token, held.reservation_id)


# -- reading a reservation ---------------------------------------------------------------


async def test_the_owner_reads_a_reservation_with_a_token_in_any_state(
    service: ConcertService, concert: Concert
) -> None:
    user = new_user()
    buyer = await active_token(service, concert.concert_id, user)
    bought = await hold(service, buyer.token, concert.concert_id, 12)
    await service.charge_wallet(ChargeCommand(user, 1_000_000))
    await service.pay(PayCommand(buyer.token, [bought.reservation_id]))
    assert (await service.queue_status(buyer.token)).status == "EXPIRED"
    view = await service.get_reservation(buyer.token, bought.reservation_id)
    assert (view.status, view.held_until, view.seat_no) == ("CONFIRMED", None, 12)
    assert view.price == PRICES[11]


async def test_reading_someone_elses_reservation_is_not_owner(
    service: ConcertService, concert: Concert
) -> None:
    owner = await active_token(service, concert.concert_id)
    other = await active_token(service, concert.concert_id)
    theirs = await hold(service, owner.token, concert.concert_id, 4)
    with pytest.raises(NotOwnerError):
        await service.get_reservation(other.token, theirs.reservation_id)


async def test_reading_an_unknown_reservation_is_not_found(
    service: ConcertService, concert: Concert
) -> None:
    ticket = await active_token(service, concert.concert_id)
    with pytest.raises(NotFoundError):
        await service.get_reservation(ticket.token, ReservationId(uuid.uuid4()))


async def test_scheduling_a_concert_again_adds_only_the_dates_it_lacks(
    service: ConcertService,
) -> None:
    first = await service.schedule_concert(
        ScheduleConcertCommand("Countdown", "Dome", ["2026-12-24"], PRICES)
    )
    again = await service.schedule_concert(
        ScheduleConcertCommand("Countdown", "Dome", ["2026-12-24", "2026-12-31"], PRICES)
    )
    assert again == first
    assert [c.concert_id for c in await service.list_concerts()] == [first.concert_id]
    ticket = await active_token(service, first.concert_id)
    dates = await service.list_dates(ListDatesQuery(ticket.token, first.concert_id))
    assert [d.date.isoformat() for d in dates] == ["2026-12-24", "2026-12-31"]


async def test_the_queue_overview_counts_live_tokens_per_concert(
    service: ConcertService, concert: Concert
) -> None:
    await active_token(service, concert.concert_id)
    await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id))
    (stats,) = await service.queue_overview(concert.concert_id)
    assert (stats.concert_id, stats.waiting, stats.active) == (concert.concert_id, 1, 1)
    with pytest.raises(NotFoundError):
        await service.queue_overview(concert.concert_id + 1000)
