"""ReservationRepository: releasing holds, confirming them all or nothing, sweeping."""

from __future__ import annotations

import pytest

from backends import Backend
from concert_core.domain import (
    HoldExpiredError,
    NotFoundError,
    NotOwnerError,
    ReservationStatus,
    SeatStatus,
)
from contract.helpers import (
    D1,
    D2,
    T0,
    at,
    hold,
    new_concert,
    new_reservation_id,
    new_token_id,
    new_user,
    seat,
    seat_state,
)


async def test_releasing_a_hold_frees_its_seat_for_anyone(backend: Backend) -> None:
    concert_id = await new_concert(backend)
    user, key = new_user(), seat(concert_id, D1, 5)
    held = await hold(backend, key, user)
    rid = held.reservation.reservation_id
    async with backend.uow() as uow:
        released = await uow.reservations.release(rid, user, at(1))
        await uow.commit()
    assert released.reservation_id == rid
    assert released.status is ReservationStatus.RELEASED
    async with backend.uow() as uow:
        stored = await uow.reservations.get(rid)
    assert stored is not None and stored.status is ReservationStatus.RELEASED
    assert (await seat_state(backend, key)).status_at(at(1)) is SeatStatus.AVAILABLE
    assert (await hold(backend, key, new_user(), at(2))).created


async def test_releasing_twice_is_harmless_and_never_frees_a_later_holders_seat(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend)
    user, later, key = new_user(), new_user(), seat(concert_id, D1, 5)
    rid = (await hold(backend, key, user)).reservation.reservation_id
    async with backend.uow() as uow:
        await uow.reservations.release(rid, user, at(1))
        await uow.commit()
    taken = await hold(backend, key, later, at(2))
    async with backend.uow() as uow:
        again = await uow.reservations.release(rid, user, at(3))
        await uow.commit()
    assert again.status is ReservationStatus.RELEASED
    stored = await seat_state(backend, key)
    assert stored.status_at(at(3)) is SeatStatus.HELD
    assert (stored.holder, stored.reservation_id) == (later, taken.reservation.reservation_id)


async def test_releasing_a_lapsed_hold_leaves_the_new_holder_alone(backend: Backend) -> None:
    concert_id = await new_concert(backend)
    user, later, key = new_user(), new_user(), seat(concert_id, D1, 5)
    rid = (await hold(backend, key, user, T0, until=at(30))).reservation.reservation_id
    await hold(backend, key, later, at(31))
    async with backend.uow() as uow:
        released = await uow.reservations.release(rid, user, at(32))
        await uow.commit()
    assert released.status_at(at(32)) is ReservationStatus.RELEASED
    assert (await seat_state(backend, key)).is_held_by(later, at(32))


async def test_releasing_a_paid_reservation_raises_hold_expired_and_keeps_the_sale(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend)
    user, key = new_user(), seat(concert_id, D1, 5)
    rid = (await hold(backend, key, user)).reservation.reservation_id
    async with backend.uow() as uow:
        await uow.reservations.confirm(user, [rid], at(1))
        await uow.commit()
    async with backend.uow() as uow:
        with pytest.raises(HoldExpiredError):
            await uow.reservations.release(rid, user, at(2))
        await uow.commit()
    async with backend.uow() as uow:
        stored = await uow.reservations.get(rid)
    assert stored is not None and stored.status is ReservationStatus.CONFIRMED
    assert (await seat_state(backend, key)).status is SeatStatus.SOLD


async def test_releasing_someone_elses_or_an_unknown_reservation_is_refused(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend)
    owner, key = new_user(), seat(concert_id, D1, 5)
    rid = (await hold(backend, key, owner)).reservation.reservation_id
    async with backend.uow() as uow:
        with pytest.raises(NotOwnerError):
            await uow.reservations.release(rid, new_user(), at(1))
        with pytest.raises(NotFoundError):
            await uow.reservations.release(new_reservation_id(), owner, at(1))
        await uow.commit()
        assert await uow.reservations.get(new_reservation_id()) is None
    assert (await seat_state(backend, key)).is_held_by(owner, at(1))


async def test_releasing_a_tokens_holds_frees_only_the_holds_made_under_it(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend)
    user, someone = new_user(), new_user()
    ended, later = new_token_id(), new_token_id()
    mine = [
        (
            await hold(backend, seat(concert_id, date, 1), user, token_id=ended, max_holds=9)
        ).reservation
        for date in (D1, D2)
    ]
    paid = (
        await hold(backend, seat(concert_id, D2, 3), user, token_id=ended, max_holds=9)
    ).reservation
    next_turn = (
        await hold(backend, seat(concert_id, D2, 4), user, token_id=later, max_holds=9)
    ).reservation
    theirs = (await hold(backend, seat(concert_id, D1, 2), someone)).reservation
    async with backend.uow() as uow:
        await uow.reservations.confirm(user, [paid.reservation_id], at(1))
        assert await uow.reservations.release_holds_of_token(ended, at(2)) == 2
        await uow.commit()

    async with backend.uow() as uow:
        for reservation in mine:
            stored = await uow.reservations.get(reservation.reservation_id)
            assert stored is not None and stored.status is ReservationStatus.RELEASED
        for reservation in (next_turn, theirs):
            stored = await uow.reservations.get(reservation.reservation_id)
            assert stored is not None and stored.status_at(at(2)) is ReservationStatus.HELD
        stored_paid = await uow.reservations.get(paid.reservation_id)
        assert stored_paid is not None and stored_paid.status is ReservationStatus.CONFIRMED
        assert await uow.reservations.release_holds_of_token(ended, at(3)) == 0
    assert (await seat_state(backend, seat(concert_id, D1, 1))).status is SeatStatus.AVAILABLE
    assert (await seat_state(backend, seat(concert_id, D1, 2))).is_held_by(someone, at(2))


async def test_confirming_live_holds_marks_them_confirmed_and_their_seats_sold(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend)
    user = new_user()
    keys = [seat(concert_id, D1, 1), seat(concert_id, D2, 2)]
    rids = [(await hold(backend, k, user)).reservation.reservation_id for k in keys]
    async with backend.uow() as uow:
        confirmed = await uow.reservations.confirm(user, rids, at(29))
        await uow.commit()
    assert sorted(r.reservation_id for r in confirmed) == sorted(rids)
    assert all(r.status is ReservationStatus.CONFIRMED for r in confirmed)
    async with backend.uow() as uow:
        for rid in rids:
            stored = await uow.reservations.get(rid)
            # A paid reservation stays CONFIRMED long after its hold time.
            assert stored is not None and stored.status_at(at(3_600)) is ReservationStatus.CONFIRMED
    for key in keys:
        sold = await seat_state(backend, key)
        assert sold.status_at(at(3_600)) is SeatStatus.SOLD
        assert sold.holder == user
    async with backend.uow() as uow:
        dates = await uow.seats.available_dates(concert_id, at(3_600))
        assert await uow.reservations.release_lapsed(at(3_600), limit=100) == 0
    assert [d.available_seats for d in dates] == [49, 49]


@pytest.mark.parametrize("spoiler", ["lapsed", "other-user", "unknown", "released", "paid"])
async def test_confirm_is_all_or_nothing(backend: Backend, spoiler: str) -> None:
    concert_id = await new_concert(backend)
    user, someone = new_user(), new_user()
    good = [
        (await hold(backend, seat(concert_id, D1, n), user, at(20), max_holds=9)).reservation
        for n in (1, 2)
    ]
    spoiler_seat = seat(concert_id, D2, 1)
    expected_error: type[Exception] = HoldExpiredError
    if spoiler == "unknown":
        bad_id, expected_error = new_reservation_id(), NotFoundError
    elif spoiler == "other-user":
        bad_id = (await hold(backend, spoiler_seat, someone, at(20))).reservation.reservation_id
        expected_error = NotOwnerError
    elif spoiler == "lapsed":
        lapsing = await hold(backend, spoiler_seat, user, T0, until=at(30), max_holds=9)
        bad_id = lapsing.reservation.reservation_id
    else:
        held = await hold(backend, spoiler_seat, user, at(20), max_holds=9)
        bad_id = held.reservation.reservation_id
        async with backend.uow() as uow:
            if spoiler == "released":
                await uow.reservations.release(bad_id, user, at(21))
            else:
                await uow.reservations.confirm(user, [bad_id], at(21))
            await uow.commit()

    ids = [good[0].reservation_id, bad_id, good[1].reservation_id]
    async with backend.uow() as uow:
        with pytest.raises(expected_error):
            await uow.reservations.confirm(user, ids, at(40))
        await uow.commit()  # the refused call itself must have written nothing

    async with backend.uow() as uow:
        for reservation in good:
            assert await uow.reservations.get(reservation.reservation_id) == reservation
    for n in (1, 2):
        stored = await seat_state(backend, seat(concert_id, D1, n))
        assert stored.status_at(at(40)) is SeatStatus.HELD


async def test_release_lapsed_frees_lapsed_holds_and_leaves_live_ones(backend: Backend) -> None:
    concert_id = await new_concert(backend)
    lapsed = (
        await hold(backend, seat(concert_id, D1, 1), new_user(), T0, until=at(30))
    ).reservation
    live = (await hold(backend, seat(concert_id, D1, 2), new_user(), T0, until=at(90))).reservation
    async with backend.uow() as uow:
        assert await uow.reservations.release_lapsed(at(31), limit=100) == 1
        await uow.commit()
    async with backend.uow() as uow:
        stored_lapsed = await uow.reservations.get(lapsed.reservation_id)
        stored_live = await uow.reservations.get(live.reservation_id)
        assert await uow.reservations.release_lapsed(at(31), limit=100) == 0
    assert stored_lapsed is not None and stored_lapsed.status is ReservationStatus.RELEASED
    assert stored_live is not None and stored_live.status is ReservationStatus.HELD
    freed = await seat_state(backend, seat(concert_id, D1, 1))
    assert (freed.status, freed.holder) == (SeatStatus.AVAILABLE, None)
    assert (await seat_state(backend, seat(concert_id, D1, 2))).status is SeatStatus.HELD


async def test_release_lapsed_releases_at_most_limit_holds_per_call(backend: Backend) -> None:
    concert_id = await new_concert(backend)
    for n in range(1, 6):
        await hold(backend, seat(concert_id, D1, n), new_user(), T0, until=at(30))
    released = []
    for _ in range(4):
        async with backend.uow() as uow:
            released.append(await uow.reservations.release_lapsed(at(31), limit=2))
            await uow.commit()
    assert released == [2, 2, 1, 0]
    async with backend.uow() as uow:
        seats = await uow.seats.list_seats(concert_id, D1)
    assert all(s.status is SeatStatus.AVAILABLE for s in seats)
