"""Value objects shared by the aggregates: identifiers, seat numbers, money, limits."""

from __future__ import annotations

import datetime as dt
import re
from typing import NewType
from uuid import UUID

from concert_core.domain.errors import ValidationError

UserId = NewType("UserId", UUID)
ConcertId = NewType("ConcertId", int)
TokenId = NewType("TokenId", UUID)
ReservationId = NewType("ReservationId", UUID)
PaymentId = NewType("PaymentId", UUID)
SeatNo = NewType("SeatNo", int)
Money = NewType("Money", int)
"""An integer number of won. Never a float."""

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
SEATS_PER_DATE = 50
MIN_CHARGE = 1
MAX_CHARGE = 10_000_000
MAX_BALANCE = 10**12
MAX_PRICE = 10_000_000


def _is_plain_int(value: object) -> bool:
    # bool is an int subclass; True is not seat number 1.
    return isinstance(value, int) and not isinstance(value, bool)


def seat_no(value: object) -> SeatNo:
    """Validate a seat number: an integer in 1..50."""
    if not _is_plain_int(value) or not 1 <= value <= SEATS_PER_DATE:  # type: ignore[operator]
        raise ValidationError(f"seat_no must be an integer from 1 to {SEATS_PER_DATE}")
    return SeatNo(value)  # type: ignore[arg-type]


def charge_amount(value: object) -> Money:
    """Validate a charge amount: an integer won in 1..10,000,000."""
    if not _is_plain_int(value) or not MIN_CHARGE <= value <= MAX_CHARGE:  # type: ignore[operator]
        raise ValidationError(f"amount must be an integer from {MIN_CHARGE} to {MAX_CHARGE:,}")
    return Money(value)  # type: ignore[arg-type]


def price(value: object) -> Money:
    """Validate a seat price: a non-negative integer won."""
    if not _is_plain_int(value) or not 0 <= value <= MAX_PRICE:  # type: ignore[operator]
        raise ValidationError(f"price must be an integer from 0 to {MAX_PRICE:,}")
    return Money(value)  # type: ignore[arg-type]


def concert_id(value: object) -> ConcertId:
    """Validate a concert id: a positive integer."""
    if not _is_plain_int(value) or not 1 <= value < 2**63:  # type: ignore[operator]
        raise ValidationError("concert_id must be a positive integer")
    return ConcertId(value)  # type: ignore[arg-type]


def calendar_date(value: object) -> dt.date:
    """Validate a performance date given as a date or an ISO ``YYYY-MM-DD`` string."""
    if isinstance(value, dt.datetime):
        raise ValidationError("date must be a calendar date, not a timestamp")
    if isinstance(value, dt.date):
        return value
    # fromisoformat alone also takes week dates ("2026-W52-4"); only YYYY-MM-DD is a date.
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationError("date must be a calendar date written YYYY-MM-DD")


def _uuid(value: object, what: str) -> UUID:
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            pass
    raise ValidationError(f"{what} must be a UUID")


def reservation_id(value: object) -> ReservationId:
    """Validate a reservation id: a UUID or its string form."""
    return ReservationId(_uuid(value, "a reservation id"))


def flag(value: object) -> bool:
    """Validate a yes/no option: a bool, nothing else (\"false\" is not False)."""
    if not isinstance(value, bool):
        raise ValidationError("expected true or false")
    return value


def user_id(value: object) -> UserId:
    """Validate a user id: a UUID or its string form."""
    return UserId(_uuid(value, "user_id"))
