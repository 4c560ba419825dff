"""PaymentRepository: immutable payment records, history newest first."""

from __future__ import annotations

import uuid

import pytest

from backends import Backend
from concert_core.domain import (
    ConcertId,
    DomainError,
    Money,
    Payment,
    PaymentId,
    ReservationId,
    UserId,
)
from contract.helpers import at, new_reservation_id, new_user


def payment(user: UserId, amount: int, seconds: float, seats: int = 1) -> Payment:
    return Payment(
        payment_id=PaymentId(uuid.uuid4()),
        user_id=user,
        concert_id=ConcertId(1),
        reservation_ids=tuple(new_reservation_id() for _ in range(seats)),
        amount=Money(amount),
        paid_at=at(seconds),
    )


async def add(backend: Backend, *payments: Payment) -> None:
    for record in payments:
        async with backend.uow() as uow:
            await uow.payments.add(record)
            await uow.commit()


async def test_a_payment_reads_back_by_id_exactly_as_recorded(backend: Backend) -> None:
    record = payment(new_user(), 123_000, 7, seats=3)
    await add(backend, record)
    async with backend.uow() as uow:
        found = await uow.payments.get(record.payment_id)
    assert found == record
    assert found is not None and isinstance(found.reservation_ids, tuple)
    assert all(isinstance(r, uuid.UUID) for r in found.reservation_ids)


async def test_an_unknown_payment_reads_as_none(backend: Backend) -> None:
    await add(backend, payment(new_user(), 1_000, 1))
    async with backend.uow() as uow:
        assert await uow.payments.get(PaymentId(uuid.uuid4())) is None


async def test_history_lists_the_users_payments_newest_first(backend: Backend) -> None:
    user, someone = new_user(), new_user()
    first, second, third = (payment(user, 1_000 * n, n) for n in (1, 2, 3))
    await add(backend, first, payment(someone, 9_000, 2), second, third)
    async with backend.uow() as uow:
        assert await uow.payments.history(user) == [third, second, first]
        assert [p.user_id for p in await uow.payments.history(someone)] == [someone]
        assert await uow.payments.history(new_user()) == []


async def test_a_payment_id_is_recorded_only_once(backend: Backend) -> None:
    user = new_user()
    record = payment(user, 5_000, 1)
    await add(backend, record)
    duplicate = Payment(
        record.payment_id, user, ConcertId(2), (ReservationId(uuid.uuid4()),), Money(1), at(9)
    )
    with pytest.raises(DomainError):
        await add(backend, duplicate)
    async with backend.uow() as uow:
        assert await uow.payments.get(record.payment_id) == record
        assert await uow.payments.history(user) == [record]
