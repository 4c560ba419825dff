"""A payment: an immutable record of paid reservations."""

from __future__ import annotations

import datetime as dt

from attrs import frozen

from concert_core.domain.errors import TokenNotActiveError
from concert_core.domain.queue import TokenStatus
from concert_core.domain.values import (
    ConcertId,
    Money,
    PaymentId,
    ReservationId,
    TokenId,
    UserId,
)


@frozen
class Payment:
    payment_id: PaymentId
    user_id: UserId
    concert_id: ConcertId
    reservation_ids: tuple[ReservationId, ...]
    amount: Money
    paid_at: dt.datetime
    token_id: TokenId | None = None
    """The turn the payment was made in: a turn pays once."""


def turn_paid_already() -> TokenNotActiveError:
    """The refusal of a second payment in one turn: a turn pays once."""
    return TokenNotActiveError(
        "this turn has paid already", token_status=TokenStatus.EXPIRED, position=None
    )
