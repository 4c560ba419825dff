"""Wallets and their ledger in SQL: a charge or a debit and its ledger entry, written
together, each entry at most once (its id is unique)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from sqlalchemy import Row, exc, select, update

from adapters.sql import postgres
from adapters.sql import tables as t
from adapters.sql.dialect import insert_ignoring_conflicts
from adapters.sql.engine import is_postgres
from adapters.sql.transactions import SqlRepository
from concert_core.domain import (
    EntryKind,
    IdempotencyInProgressError,
    InsufficientBalanceError,
    LedgerEntry,
    Money,
    PaymentId,
    UserId,
    ValidationError,
    Wallet,
)
from concert_core.domain.values import MAX_BALANCE


def _entry(row: Row[Any]) -> LedgerEntry:
    return LedgerEntry(
        entry_id=row.entry_id,
        user_id=UserId(row.user_id),
        kind=EntryKind(row.kind),
        amount=row.amount,
        at=row.at,
        payment_id=PaymentId(row.payment_id) if row.payment_id else None,
    )


class SqlWalletRepository(SqlRepository):
    async def get(self, user_id: UserId) -> Wallet:
        balance = (
            await self._c.execute(select(t.wallets.c.balance).where(t.wallets.c.user_id == user_id))
        ).scalar_one_or_none()
        return Wallet(user_id, Money(balance or 0))

    async def _open(self, user_id: UserId) -> None:
        await self._c.execute(
            insert_ignoring_conflicts(self._c, t.wallets).values(user_id=user_id, balance=0)
        )

    async def _ledger(
        self,
        user_id: UserId,
        kind: EntryKind,
        amount: int,
        entry_id: UUID,
        now: dt.datetime,
        payment_id: PaymentId | None = None,
    ) -> bool:
        """Insert a ledger entry; False if one with ``entry_id`` exists already."""
        result = await self._c.execute(
            insert_ignoring_conflicts(self._c, t.ledger).values(
                entry_id=entry_id,
                user_id=user_id,
                kind=kind.value,
                amount=amount,
                at=now,
                payment_id=payment_id,
            )
        )
        return bool(result.rowcount == 1)

    async def charge(
        self, user_id: UserId, amount: Money, entry_id: UUID, now: dt.datetime
    ) -> Wallet:
        Wallet(user_id).charge(amount, entry_id, now)  # the amount's own rules, or raise
        async with self._atomically():
            return await self._charge(user_id, amount, entry_id, now)

    async def _charge(
        self, user_id: UserId, amount: Money, entry_id: UUID, now: dt.datetime
    ) -> Wallet:
        await self._open(user_id)
        if not await self._ledger(user_id, EntryKind.CHARGE, amount, entry_id, now):
            return await self.get(user_id)  # this very charge is already in the ledger
        w = t.wallets.c
        balance = (
            await self._c.execute(
                update(t.wallets)
                .where(w.user_id == user_id, w.balance + amount <= MAX_BALANCE)
                .values(balance=w.balance + amount)
                .returning(w.balance)
            )
        ).scalar_one_or_none()
        if balance is None:
            raise ValidationError(f"a balance cannot exceed {MAX_BALANCE:,} won")
        return Wallet(user_id, Money(balance))

    async def debit(
        self,
        user_id: UserId,
        amount: Money,
        entry_id: UUID,
        payment_id: PaymentId,
        now: dt.datetime,
    ) -> Wallet:
        if amount < 0:
            raise ValidationError("a debit cannot be negative")
        if amount == 0 or not is_postgres(self._c):
            async with self._atomically():
                return await self._debit(user_id, amount, entry_id, payment_id, now)
        # PostgreSQL, a positive amount: one statement, no savepoint; it writes nothing
        # unless it debits (a wallet that does not exist cannot cover a positive amount,
        # so none is opened).
        params = {
            "user_id": user_id,
            "amount": amount,
            "entry_id": entry_id,
            "payment_id": payment_id,
            "now": now,
        }
        try:
            outcome = (await self._c.execute(postgres.DEBIT, params)).one()
        except exc.IntegrityError as error:
            # The same entry, committed by another transaction after this statement's
            # snapshot: this one wrote nothing, and its transaction must roll back.
            if "uq_ledger_entry_id" in str(error.orig):
                raise IdempotencyInProgressError(f"ledger entry {entry_id} exists") from error
            raise
        if outcome.earlier:
            raise IdempotencyInProgressError(f"ledger entry {entry_id} exists already")
        if outcome.balance is None:
            raise InsufficientBalanceError(
                f"balance {outcome.current or 0:,} won is below the {amount:,} won due"
            )
        return Wallet(user_id, Money(outcome.balance))

    async def _debit(
        self,
        user_id: UserId,
        amount: Money,
        entry_id: UUID,
        payment_id: PaymentId,
        now: dt.datetime,
    ) -> Wallet:
        await self._open(user_id)
        if not await self._ledger(user_id, EntryKind.PAYMENT, -amount, entry_id, now, payment_id):
            raise IdempotencyInProgressError(f"ledger entry {entry_id} exists already")
        w = t.wallets.c
        balance = (
            await self._c.execute(
                update(t.wallets)
                .where(w.user_id == user_id, w.balance >= amount)
                .values(balance=w.balance - amount)
                .returning(w.balance)
            )
        ).scalar_one_or_none()
        if balance is None:
            current = await self.get(user_id)
            raise InsufficientBalanceError(
                f"balance {current.balance:,} won is below the {amount:,} won due"
            )
        return Wallet(user_id, Money(balance))

    async def ledger(self, user_id: UserId) -> list[LedgerEntry]:
        rows = await self._c.execute(
            select(t.ledger).where(t.ledger.c.user_id == user_id).order_by(t.ledger.c.serial)
        )
        return [_entry(r) for r in rows]
