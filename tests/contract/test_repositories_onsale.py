"""Repositories' on-sale duties: a concert's sale settings, seats counted per date, the
live holds of a turn, one payment per turn and a concert's revenue."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from concert_core.domain import (
    ConcertId,
    DateSeats,
    Money,
    Payment,
    PaymentId,
    ReservationId,
    SaleSettings,
    TokenNotActiveError,
    UserId,
)
from contract.helpers import (
    D1,
    D2,
    T0,
    Backend,
    at,
    hold,
    new_concert,
    new_reservation_id,
    new_token_id,
    new_user,
    seat,
)

SALE = SaleSettings(
    prequeue_opens_at=T0,
    opens_at=T0 + dt.timedelta(minutes=2),
    closes_at=T0 + dt.timedelta(hours=3),
    paused=True,
    capacity=250,
    admission_per_minute=600,
    join_challenge=True,
    message="Doors open at 7 pm",
)


async def test_a_concert_keeps_the_sale_settings_it_was_added_with(backend: Backend) -> None:
    async with backend.uow() as uow:
        concert = await uow.catalogue.add_concert("Aurora", "Hall", SALE)
        await uow.commit()
    assert concert.sale == SALE
    async with backend.uow() as uow:
        stored = await uow.catalogue.get_concert(concert.concert_id)
        listed = await uow.catalogue.list_concerts()
    assert stored is not None and stored.sale == SALE
    assert [c.sale for c in listed] == [SALE]


async def test_a_concert_added_without_settings_is_on_sale_at_once(backend: Backend) -> None:
    concert_id = await new_concert(backend)
    async with backend.uow() as uow:
        stored = await uow.catalogue.get_concert(concert_id)
    assert stored is not None and stored.sale == SaleSettings()


async def test_changing_a_sale_replaces_its_settings(backend: Backend) -> None:
    concert_id = await new_concert(backend)
    async with backend.uow() as uow:
        assert await uow.catalogue.change_sale(concert_id, SALE)
        assert not await uow.catalogue.change_sale(ConcertId(999), SALE)
        await uow.commit()
    async with backend.uow() as uow:
        stored = await uow.catalogue.get_concert(concert_id)
    assert stored is not None and stored.sale == SALE


async def test_an_uncommitted_sale_change_changes_nothing(backend: Backend) -> None:
    concert_id = await new_concert(backend)
    async with backend.uow() as uow:
        await uow.catalogue.change_sale(concert_id, SALE)
    async with backend.uow() as uow:
        stored = await uow.catalogue.get_concert(concert_id)
    assert stored is not None and stored.sale == SaleSettings()


async def test_seats_are_counted_per_date_as_they_stand_at_the_instant(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend, (D1, D2))
    user = new_user()
    hold_ttl = backend.policy.hold_ttl
    await hold(backend, seat(concert_id, D1, 1), user, T0)
    await hold(backend, seat(concert_id, D1, 2), user, T0 + hold_ttl / 2)
    async with backend.uow() as uow:
        both = await uow.seats.seat_counts(concert_id, T0 + hold_ttl / 4)
        one = await uow.seats.seat_counts(concert_id, T0 + hold_ttl)  # the first lapsed
        none = await uow.seats.seat_counts(ConcertId(999), T0)
    assert both == [DateSeats(D1, 48, 2, 0), DateSeats(D2, 50, 0, 0)]
    assert one == [DateSeats(D1, 49, 1, 0), DateSeats(D2, 50, 0, 0)]
    assert none == []


async def test_a_concert_is_sold_out_once_every_seat_is_sold(backend: Backend) -> None:
    concert_id = await new_concert(backend, (D1,))
    unseated = await new_concert(backend, ())
    holds = []  # every seat of the date held, each by a fan of its own
    for seat_no in range(1, 51):
        user = new_user()
        held = await hold(backend, seat(concert_id, D1, seat_no), user, T0)
        holds.append((user, held.reservation.reservation_id))
    hold_ttl = backend.policy.hold_ttl

    async def sold_out() -> list[bool]:
        async with backend.uow() as uow:
            return [
                await uow.seats.sold_out(concert_id),
                await uow.seats.sold_out(unseated),
                await uow.seats.sold_out(ConcertId(999)),
            ]

    async def sell(sold: list[tuple[UserId, ReservationId]]) -> None:
        for user, rid in sold:
            async with backend.uow() as uow:
                await uow.reservations.confirm(user, [rid], at(1))
                await uow.commit()

    assert await sold_out() == [False, False, False]  # every seat held, none sold
    await sell(holds[:-1])
    assert await sold_out() == [False, False, False]  # one seat still held
    async with backend.uow() as uow:
        counts = await uow.seats.seat_counts(concert_id, T0 + hold_ttl)
    assert counts == [DateSeats(D1, 1, 0, 49)]  # and once that hold lapses, for sale
    assert await sold_out() == [False, False, False]
    await sell(holds[-1:])
    assert await sold_out() == [True, False, False]


async def test_the_live_holds_of_a_turn_are_the_ones_made_under_it(backend: Backend) -> None:
    concert_id = await new_concert(backend)
    user, token_id, other_turn = new_user(), new_token_id(), new_token_id()
    mine = await hold(backend, seat(concert_id, D1, 1), user, T0, token_id=token_id)
    await hold(backend, seat(concert_id, D1, 2), user, at(10), token_id=token_id)
    await hold(backend, seat(concert_id, D1, 3), new_user(), T0, token_id=other_turn)
    async with backend.uow() as uow:
        await uow.reservations.release(mine.reservation.reservation_id, user, at(20))
        await uow.commit()
    async with backend.uow() as uow:
        live = await uow.reservations.live_holds_of_token(token_id, at(20))
        lapsed = await uow.reservations.live_holds_of_token(
            token_id, at(10) + backend.policy.hold_ttl
        )
    assert [r.seat.seat_no for r in live] == [2]
    assert lapsed == []


def payment(concert_id: ConcertId, amount: int, token: uuid.UUID | None) -> Payment:
    return Payment(
        PaymentId(uuid.uuid4()),
        new_user(),
        concert_id,
        (new_reservation_id(),),
        Money(amount),
        T0,
        token,  # type: ignore[arg-type]
    )


async def test_a_turn_pays_once(backend: Backend) -> None:
    token_id = new_token_id()
    async with backend.uow() as uow:
        await uow.payments.add(payment(ConcertId(1), 1_000, token_id))
        await uow.commit()
    async with backend.uow() as uow:
        with pytest.raises(TokenNotActiveError):
            await uow.payments.add(payment(ConcertId(1), 2_000, token_id))
    async with backend.uow() as uow:
        assert await uow.payments.revenue(ConcertId(1)) == 1_000


async def test_a_concerts_revenue_is_the_sum_of_its_payments(backend: Backend) -> None:
    async with backend.uow() as uow:
        assert await uow.payments.revenue(ConcertId(1)) == 0
        for amount in (1_000, 2_500):
            await uow.payments.add(payment(ConcertId(1), amount, new_token_id()))
        await uow.payments.add(payment(ConcertId(2), 9_000, None))
        await uow.commit()
    async with backend.uow() as uow:
        assert await uow.payments.revenue(ConcertId(1)) == 3_500
        assert await uow.payments.revenue(ConcertId(2)) == 9_000
