"""The prepaid wallet: balance >= 0, every change a ledger entry."""

from __future__ import annotations

import datetime as dt
import enum
from uuid import UUID

from attrs import define, field, frozen

from concert_core.domain.errors import InsufficientBalanceError, ValidationError
from concert_core.domain.values import MAX_BALANCE, Money, PaymentId, UserId


class EntryKind(enum.StrEnum):
    CHARGE = "CHARGE"
    PAYMENT = "PAYMENT"


@frozen
class LedgerEntry:
    entry_id: UUID
    user_id: UserId
    kind: EntryKind
    amount: int
    """Signed: positive for a charge, negative for a payment."""
    at: dt.datetime
    payment_id: PaymentId | None = None


@define
class Wallet:
    """A user's balance. It exists implicitly: an unknown user has a wallet of 0."""

    user_id: UserId
    balance: Money = field(default=Money(0))

    def charge(self, amount: Money, entry_id: UUID, now: dt.datetime) -> LedgerEntry:
        if amount <= 0:
            raise ValidationError("a charge must be positive")
        if self.balance + amount > MAX_BALANCE:
            raise ValidationError(f"a balance cannot exceed {MAX_BALANCE:,} won")
        self.balance = Money(self.balance + amount)
        return LedgerEntry(entry_id, self.user_id, EntryKind.CHARGE, amount, now)

    def debit(
        self, amount: Money, entry_id: UUID, payment_id: PaymentId, now: dt.datetime
    ) -> LedgerEntry:
        if amount < 0:
            raise ValidationError("a debit cannot be negative")
        if self.balance < amount:
            raise InsufficientBalanceError(
                f"balance {self.balance:,} won is below the {amount:,} won due"
            )
        self.balance = Money(self.balance - amount)
        return LedgerEntry(entry_id, self.user_id, EntryKind.PAYMENT, -amount, now, payment_id)
