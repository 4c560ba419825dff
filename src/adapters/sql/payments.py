"""Payments in SQL: each recorded once and at most one per turn, read back by id, as a
fan's history or as a concert's revenue."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Row, func, select

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
    TokenId,
    UserId,
)
from concert_core.domain.payment import turn_paid_already


def _payment(row: Row[Any]) -> Payment:
    return Payment(
        payment_id=PaymentId(row.payment_id),
        user_id=UserId(row.user_id),
        concert_id=ConcertId(row.concert_id),
        reservation_ids=tuple(ReservationId(UUID(r)) for r in row.reservation_ids),
        amount=Money(row.amount),
        paid_at=row.paid_at,
        token_id=TokenId(row.token_id) if row.token_id else None,
    )


class SqlPaymentRepository(SqlRepository):
    async def add(self, payment: Payment) -> None:
        # Either unique index refuses the row without an error (the transaction stays
        # usable): a payment id taken first, then a turn that paid already.
        result = await self._c.execute(
            insert_ignoring_conflicts(self._c, t.payments).values(
                payment_id=payment.payment_id,
                user_id=payment.user_id,
                concert_id=payment.concert_id,
                reservation_ids=[str(r) for r in payment.reservation_ids],
                amount=payment.amount,
                paid_at=payment.paid_at,
                token_id=payment.token_id,
            )
        )
        if result.rowcount == 1:
            return
        if await self.get(payment.payment_id) is not None:
            raise IdempotencyInProgressError(f"payment {payment.payment_id} exists already")
        raise turn_paid_already()

    async def revenue(self, concert_id: ConcertId) -> Money:
        p = t.payments.c
        total = await self._c.scalar(
            select(func.coalesce(func.sum(p.amount), 0)).where(p.concert_id == concert_id)
        )
        return Money(int(total or 0))

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
