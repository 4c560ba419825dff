"""A reservation looked up for its owner, by a token the queue knows."""

from __future__ import annotations

import datetime as dt

from concert_core.domain import NotFoundError, QueuePlace, Reservation, ReservationId, values
from concert_core.ports import UnitOfWorkFactory
from concert_core.use_cases._gate import TokenGate


async def owned_reservation(
    gate: TokenGate,
    uow_factory: UnitOfWorkFactory,
    token: str,
    reservation_id: ReservationId | str,
    now: dt.datetime,
) -> tuple[QueuePlace, Reservation]:
    """The token's place (any state) and the reservation, if the token's user owns it:
    NOT_FOUND when it does not exist, NOT_OWNER when it is another user's."""
    rid = values.reservation_id(reservation_id)
    place = await gate.place(token, now)
    async with uow_factory() as uow:
        reservation = await uow.reservations.get(rid)
    if reservation is None:
        raise NotFoundError(f"reservation {rid} does not exist")
    reservation.check_owner(place.token.user_id)
    return place, reservation
