"""UnitOfWork: one transaction over every repository, committed together or not at all."""

from __future__ import annotations

import uuid

import pytest
from attrs import frozen

from backends import Backend
from concert_core.domain import (
    ConcertId,
    Money,
    Payment,
    PaymentId,
    ReservationId,
    ReservationStatus,
    SeatStatus,
    UserId,
)
from concert_core.ports import UnitOfWork
from contract.helpers import D1, D2, PRICES, T0, hold_request, new_concert, new_user, seat


class Boom(Exception):
    pass


@frozen
class Writes:
    """What ``write_everywhere`` wrote, to look for afterwards."""

    concert_id: ConcertId
    seat_concert_id: ConcertId
    user: UserId
    reservation_id: ReservationId
    payment_id: PaymentId


async def write_everywhere(backend: Backend, uow: UnitOfWork, concert_id: ConcertId) -> Writes:
    """One write through every repository of ``uow``."""
    user = new_user()
    concert = await uow.catalogue.add_concert("Maybe", "Somewhere")
    assert await uow.catalogue.add_date(concert.concert_id, D1, PRICES)
    assert await uow.catalogue.add_date(concert_id, D2, PRICES)
    request = hold_request(backend, seat(concert_id, D1, 1), user)
    await uow.seats.hold(request)
    await uow.wallets.charge(user, Money(9_000), uuid.uuid4(), T0)
    payment_id = PaymentId(uuid.uuid4())
    await uow.payments.add(
        Payment(payment_id, user, concert_id, (request.reservation_id,), Money(0), T0)
    )
    return Writes(concert.concert_id, concert_id, user, request.reservation_id, payment_id)


async def assert_nothing_left(backend: Backend, writes: Writes) -> None:
    async with backend.uow() as uow:
        assert await uow.catalogue.get_concert(writes.concert_id) is None
        assert await uow.seats.list_seats(writes.concert_id, D1) == []
        assert await uow.catalogue.list_dates(writes.seat_concert_id) == [D1]
        assert await uow.reservations.get(writes.reservation_id) is None
        seats = await uow.seats.list_seats(writes.seat_concert_id, D1)
        assert seats[0].status is SeatStatus.AVAILABLE
        assert (await uow.wallets.get(writes.user)).balance == 0
        assert await uow.wallets.ledger(writes.user) == []
        assert await uow.payments.get(writes.payment_id) is None
        assert await uow.payments.history(writes.user) == []


async def assert_all_there(backend: Backend, writes: Writes) -> None:
    async with backend.uow() as uow:
        assert await uow.catalogue.get_concert(writes.concert_id) is not None
        assert len(await uow.seats.list_seats(writes.concert_id, D1)) == 50
        assert await uow.catalogue.list_dates(writes.seat_concert_id) == [D1, D2]
        reservation = await uow.reservations.get(writes.reservation_id)
        assert reservation is not None and reservation.status is ReservationStatus.HELD
        seats = await uow.seats.list_seats(writes.seat_concert_id, D1)
        assert seats[0].holder == writes.user
        assert (await uow.wallets.get(writes.user)).balance == 9_000
        assert await uow.payments.get(writes.payment_id) is not None


async def test_committed_writes_of_every_repository_are_kept_together(backend: Backend) -> None:
    concert_id = await new_concert(backend, dates=(D1,))
    async with backend.uow() as uow:
        writes = await write_everywhere(backend, uow, concert_id)
        await uow.commit()
    await assert_all_there(backend, writes)


async def test_leaving_without_commit_leaves_nothing_behind(backend: Backend) -> None:
    concert_id = await new_concert(backend, dates=(D1,))
    async with backend.uow() as uow:
        writes = await write_everywhere(backend, uow, concert_id)
    await assert_nothing_left(backend, writes)


async def test_an_exception_inside_leaves_nothing_behind_and_propagates(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend, dates=(D1,))
    written: list[Writes] = []

    async def fail_after_writing() -> None:
        async with backend.uow() as uow:
            written.append(await write_everywhere(backend, uow, concert_id))
            raise Boom

    with pytest.raises(Boom):
        await fail_after_writing()
    await assert_nothing_left(backend, written[0])


async def test_a_unit_of_work_reads_its_own_uncommitted_writes(backend: Backend) -> None:
    concert_id = await new_concert(backend, dates=(D1,))
    async with backend.uow() as uow:
        writes = await write_everywhere(backend, uow, concert_id)
        assert await uow.catalogue.get_concert(writes.concert_id) is not None
        reservation = await uow.reservations.get(writes.reservation_id)
        assert reservation is not None and reservation.user_id == writes.user
        assert (await uow.wallets.get(writes.user)).balance == 9_000
        assert [p.payment_id for p in await uow.payments.history(writes.user)] == [
            writes.payment_id
        ]


async def test_writes_after_a_commit_are_rolled_back_if_not_committed_again(
    backend: Backend,
) -> None:
    user = new_user()
    async with backend.uow() as uow:
        await uow.wallets.charge(user, Money(1_000), uuid.uuid4(), T0)
        await uow.commit()
        await uow.wallets.charge(user, Money(2_000), uuid.uuid4(), T0)
    async with backend.uow() as uow:
        assert (await uow.wallets.get(user)).balance == 1_000
        assert [e.amount for e in await uow.wallets.ledger(user)] == [1_000]


async def test_a_rolled_back_unit_does_not_disturb_what_was_committed_before(
    backend: Backend,
) -> None:
    user = new_user()
    concert_id = await new_concert(backend, dates=(D1,))
    async with backend.uow() as uow:
        await uow.wallets.charge(user, Money(5_000), uuid.uuid4(), T0)
        await uow.commit()

    async def fail_after_writing() -> None:
        async with backend.uow() as uow:
            await uow.wallets.debit(user, Money(5_000), uuid.uuid4(), PaymentId(uuid.uuid4()), T0)
            await uow.seats.hold(hold_request(backend, seat(concert_id, D1, 2), user))
            raise Boom

    with pytest.raises(Boom):
        await fail_after_writing()
    async with backend.uow() as uow:
        assert (await uow.wallets.get(user)).balance == 5_000
        assert [e.amount for e in await uow.wallets.ledger(user)] == [5_000]
        seats = await uow.seats.list_seats(concert_id, D1)
    assert seats[1].status is SeatStatus.AVAILABLE
