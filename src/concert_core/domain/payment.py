"""A payment: an immutable record of paid reservations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from attrs import frozen

from concert_core.domain.errors import NotFoundError, TokenNotActiveError
from concert_core.domain.queue import TokenStatus
from concert_core.domain.reservation import Reservation
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


def payable(
    found: Mapping[ReservationId, Reservation | None],
    user: UserId,
    concert_id: ConcertId,
) -> list[Reservation]:
    """The reservations a payment names, in its order, if each exists (NotFoundError),
    is the payer's (NotOwnerError) and is of the paying turn's concert
    (TokenNotActiveError). Whether each is still a live hold is the confirmation's to
    judge."""
    if missing := [str(r) for r, one in found.items() if one is None]:
        raise NotFoundError(f"no reservation {', '.join(missing)}")
    reservations: Sequence[Reservation] = [r for r in found.values() if r is not None]
    for reservation in reservations:
        reservation.check_owner(user)
    for reservation in reservations:
        if reservation.concert_id != concert_id:
            raise TokenNotActiveError(
                f"reservation {reservation.reservation_id} is for another concert",
                token_status=TokenStatus.ACTIVE,
                position=None,
            )
    return list(reservations)
