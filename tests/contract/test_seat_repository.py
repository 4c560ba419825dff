"""SeatRepository: seats as stored, availability at an instant, and atomic holds."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from backends import Backend
from concert_core.domain import (
    ConcertId,
    DateAvailability,
    DomainError,
    HoldLimitReachedError,
    NotFoundError,
    ReservationStatus,
    SeatStatus,
    SeatUnavailableError,
)
from contract.helpers import (
    D1,
    D2,
    D3,
    PRICES,
    T0,
    at,
    hold,
    hold_request,
    new_concert,
    new_reservation_id,
    new_token_id,
    new_user,
    seat,
    seat_state,
)


async def test_holding_an_available_seat_records_a_held_reservation(backend: Backend) -> None:
    concert_id = await new_concert(backend)
    user, rid, key = new_user(), new_reservation_id(), seat(concert_id, D1, 7)
    outcome = await hold(backend, key, user, at(5), until=at(35), reservation_id=rid)

    assert outcome.created is True
    reservation = outcome.reservation
    assert reservation.reservation_id == rid
    assert (reservation.user_id, reservation.seat, reservation.price) == (user, key, PRICES[6])
    assert reservation.status is ReservationStatus.HELD
    assert (reservation.held_until, reservation.created_at) == (at(35), at(5))
    async with backend.uow() as uow:
        assert await uow.reservations.get(rid) == reservation
    stored = await seat_state(backend, key)
    assert stored.status_at(at(6)) is SeatStatus.HELD
    assert (stored.holder, stored.reservation_id, stored.held_until) == (user, rid, at(35))


async def test_a_seat_held_by_someone_else_cannot_be_held_until_the_hold_lapses(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend)
    key = seat(concert_id, D1, 1)
    await hold(backend, key, new_user(), T0, until=at(30))
    with pytest.raises(SeatUnavailableError):
        await hold(backend, key, new_user(), at(29))


async def test_a_lapsed_hold_is_available_at_once_for_another_user(backend: Backend) -> None:
    concert_id = await new_concert(backend)
    key = seat(concert_id, D1, 1)
    first = await hold(backend, key, new_user(), T0, until=at(30))
    assert (await seat_state(backend, key)).status_at(at(31)) is SeatStatus.AVAILABLE

    other = new_user()
    second = await hold(backend, key, other, at(31))
    assert second.created is True
    assert second.reservation.user_id == other
    async with backend.uow() as uow:
        old = await uow.reservations.get(first.reservation.reservation_id)
    assert old is not None
    assert old.status_at(at(31)) is ReservationStatus.RELEASED
    stored = await seat_state(backend, key)
    assert (stored.holder, stored.reservation_id) == (other, second.reservation.reservation_id)


async def test_the_same_user_asking_again_for_a_live_hold_gets_the_same_reservation(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend)
    user, key, turn = new_user(), seat(concert_id, D1, 3), new_token_id()
    first = await hold(backend, key, user, T0, until=at(30), token_id=turn)
    again = await hold(backend, key, user, at(10), until=at(40), token_id=turn)

    assert again.created is False
    assert again.reservation == first.reservation
    assert again.reservation.held_until == at(30), "asking again does not stretch the hold"
    async with backend.uow() as uow:
        assert await uow.reservations.get(first.reservation.reservation_id) == first.reservation
    # Even at the hold limit, the user gets their own hold back.
    await hold(backend, seat(concert_id, D1, 4), user, at(11), token_id=turn)
    at_limit = await hold(backend, key, user, at(12), token_id=turn)
    assert (at_limit.created, at_limit.reservation) == (False, first.reservation)


async def test_a_live_hold_asked_for_under_a_new_token_moves_to_that_token(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend)
    user, key = new_user(), seat(concert_id, D1, 3)
    old_turn, new_turn = new_token_id(), new_token_id()
    first = await hold(backend, key, user, T0, token_id=old_turn)
    again = await hold(backend, key, user, at(5), token_id=new_turn)
    assert again.created is False
    assert again.reservation.reservation_id == first.reservation.reservation_id
    assert again.reservation.token_id == new_turn
    async with backend.uow() as uow:
        assert await uow.reservations.release_holds_of_token(old_turn, at(6)) == 0
        stored = await uow.reservations.get(first.reservation.reservation_id)
        assert stored is not None
        assert stored.token_id == new_turn
        assert stored.is_live_hold(at(6))


async def test_a_user_whose_own_hold_lapsed_gets_a_new_reservation_for_the_seat(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend)
    user, key = new_user(), seat(concert_id, D1, 3)
    first = await hold(backend, key, user, T0, until=at(30))
    again = await hold(backend, key, user, at(31))
    assert again.created is True
    assert again.reservation.reservation_id != first.reservation.reservation_id
    assert again.reservation.is_live_hold(at(31))


async def test_a_sold_seat_cannot_be_held_even_after_its_hold_time(backend: Backend) -> None:
    concert_id = await new_concert(backend)
    buyer, key = new_user(), seat(concert_id, D1, 4)
    held = await hold(backend, key, buyer, T0, until=at(30))
    async with backend.uow() as uow:
        await uow.reservations.confirm(buyer, [held.reservation.reservation_id], at(1))
        await uow.commit()
    for someone in (new_user(), buyer):
        with pytest.raises(SeatUnavailableError):
            await hold(backend, key, someone, at(3_600))


@pytest.mark.parametrize(
    ("concert", "date", "seat_no"),
    [("known", D3, 1), ("unknown", D1, 1), ("known", D1, 51), ("known", D1, 0)],
    ids=["no-such-date", "no-such-concert", "seat-51", "seat-0"],
)
async def test_holding_a_seat_that_does_not_exist_raises_not_found(
    backend: Backend, concert: str, date: dt.date, seat_no: int
) -> None:
    concert_id = await new_concert(backend)
    target = concert_id if concert == "known" else ConcertId(concert_id + 1_000)
    with pytest.raises(NotFoundError):
        await hold(backend, seat(target, date, seat_no), new_user())


async def test_the_hold_limit_counts_the_users_live_holds_in_the_concert(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend)
    user = new_user()
    await hold(backend, seat(concert_id, D1, 1), user)
    await hold(backend, seat(concert_id, D2, 2), user)
    with pytest.raises(HoldLimitReachedError):
        await hold(backend, seat(concert_id, D1, 3), user, at(1))
    # Another user is not limited by this one's holds.
    assert (await hold(backend, seat(concert_id, D1, 3), new_user(), at(1))).created


async def test_holds_elsewhere_and_lapsed_released_or_paid_ones_do_not_count_to_the_limit(
    backend: Backend,
) -> None:
    concert_id, other = await new_concert(backend), await new_concert(backend)
    user = new_user()
    await hold(backend, seat(other, D1, 1), user, at(11))
    await hold(backend, seat(other, D1, 2), user, at(11))
    lapsed = await hold(backend, seat(concert_id, D1, 1), user, T0, until=at(10))
    released = await hold(backend, seat(concert_id, D1, 2), user, at(11))
    paid = await hold(backend, seat(concert_id, D1, 3), user, at(11))
    async with backend.uow() as uow:
        await uow.reservations.release(released.reservation.reservation_id, user, at(12))
        await uow.reservations.confirm(user, [paid.reservation.reservation_id], at(12))
        await uow.commit()

    assert lapsed.reservation.status_at(at(13)) is ReservationStatus.RELEASED
    await hold(backend, seat(concert_id, D1, 4), user, at(13))
    assert (await hold(backend, seat(concert_id, D1, 5), user, at(13))).created
    with pytest.raises(HoldLimitReachedError):
        await hold(backend, seat(concert_id, D1, 6), user, at(13))


async def test_a_refused_hold_changes_nothing_even_if_the_transaction_commits(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend)
    owner, user = new_user(), new_user()
    taken = seat(concert_id, D1, 1)
    await hold(backend, taken, owner, T0, until=at(30))
    await hold(backend, seat(concert_id, D1, 2), user)
    await hold(backend, seat(concert_id, D1, 3), user)

    refused = [
        hold_request(backend, taken, new_user(), at(1)),  # held by someone else
        hold_request(backend, seat(concert_id, D1, 4), user, at(1)),  # over the limit
    ]
    async with backend.uow() as uow:
        for request in refused:
            with pytest.raises(DomainError):
                await uow.seats.hold(request)
        await uow.commit()

    async with backend.uow() as uow:
        for request in refused:
            assert await uow.reservations.get(request.reservation_id) is None
    assert (await seat_state(backend, taken)).holder == owner
    assert (await seat_state(backend, seat(concert_id, D1, 4))).status is SeatStatus.AVAILABLE


async def test_available_dates_count_the_seats_available_at_the_instant(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend, dates=(D2, D1))
    await hold(backend, seat(concert_id, D1, 1), new_user(), T0, until=at(30))
    await hold(backend, seat(concert_id, D1, 2), new_user(), T0, until=at(60))
    async with backend.uow() as uow:
        before = await uow.seats.available_dates(concert_id, at(1))
        between = await uow.seats.available_dates(concert_id, at(45))
        after = await uow.seats.available_dates(concert_id, at(61))
    assert before == [DateAvailability(D1, 48), DateAvailability(D2, 50)]
    assert between == [DateAvailability(D1, 49), DateAvailability(D2, 50)]
    assert after == [DateAvailability(D1, 50), DateAvailability(D2, 50)]


async def test_a_date_with_no_seat_available_is_left_out(backend: Backend) -> None:
    concert_id = await new_concert(backend, dates=(D1, D2))
    for n in range(1, 51):
        await hold(backend, seat(concert_id, D1, n), new_user(), T0, until=at(30))
    async with backend.uow() as uow:
        assert await uow.seats.available_dates(concert_id, at(1)) == [DateAvailability(D2, 50)]
        assert await uow.seats.available_dates(ConcertId(concert_id + 1_000), at(1)) == []


async def test_many_users_holding_one_seat_at_once_leave_exactly_one_holder(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend)
    key = seat(concert_id, D1, 10)
    users = [new_user() for _ in range(12)]
    results = await asyncio.gather(
        *(hold(backend, key, u, at(1)) for u in users), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, SeatUnavailableError) for r in results if r not in winners)
    assert (await seat_state(backend, key)).holder == winners[0].reservation.user_id


async def test_one_user_holding_many_seats_at_once_stays_within_the_limit(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend)
    user = new_user()
    results = await asyncio.gather(
        *(hold(backend, seat(concert_id, D1, n), user, at(1)) for n in range(1, 9)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == backend.policy.max_holds_per_user
    assert all(isinstance(r, HoldLimitReachedError) for r in results if r not in winners)
    async with backend.uow() as uow:
        seats = await uow.seats.list_seats(concert_id, D1)
    assert sum(s.is_held_by(user, at(1)) for s in seats) == backend.policy.max_holds_per_user
