"""Payments in SQL: each recorded once, read back by id or as a fan's history."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Row, select

from adapters.sql import tables as t
from adapters.sql.dialect import insert_ignoring_conflicts
from adapters.sql.transactions import SqlRepository
from concert_core.domain import (
    ConcertId,
    IdempotencyInProgressError,
    Money,
    Payment,
    PaymentId,
    ReservationId,
    UserId,
)


def _payment(row: Row[Any]) -> Payment:
    return Payment(
        payment_id=PaymentId(row.payment_id),
        user_id=UserId(row.user_id),
        concert_id=ConcertId(row.concert_id),
        reservation_ids=tuple(ReservationId(UUID(r)) for r in row.reservation_ids),
        amount=Money(row.amount),
        paid_at=row.paid_at,
    )


class SqlPaymentRepository(SqlRepository):
    async def add(self, payment: Payment) -> None:
        result = await self._c.execute(
            insert_ignoring_conflicts(self._c, t.payments).values(
                payment_id=payment.payment_id,
                user_id=payment.user_id,
                concert_id=payment.concert_id,
                reservation_ids=[str(r) for r in payment.reservation_ids],
                amount=payment.amount,
                paid_at=payment.paid_at,
            )
        )
        if result.rowcount != 1:
            raise IdempotencyInProgressError(f"payment {payment.payment_id} exists already")

    async def get(self, payment_id: PaymentId) -> Payment | None:
        row = (
            await self._c.execute(select(t.payments).where(t.payments.c.payment_id == payment_id))
        ).first()
        return _payment(row) if row else None

    async def history(self, user_id: UserId) -> list[Payment]:
        rows = await self._c.execute(
            select(t.payments)
            .where(t.payments.c.user_id == user_id)
            .order_by(t.payments.c.serial.desc())
        )
        return [_payment(r) for r in rows]
