from __future__ import annotations

from concert_core.domain import NotFoundError, ReservationId, values
from concert_core.ports import Clock, UnitOfWorkFactory
from concert_core.use_cases._gate import TokenGate
from concert_core.use_cases._views import ReservationView


class GetReservation:
    """A reservation, to its owner.

    Rules:
    - needs a token the queue knows, in any state (a buyer's token is EXPIRED after
      paying and may still look at the purchase);
    - an unknown reservation is NOT_FOUND; another user's is NOT_OWNER;
    - a lapsed hold reads as RELEASED.
    """

    def __init__(self, gate: TokenGate, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._gate = gate
        self._uow = uow
        self._clock = clock

    async def __call__(self, token: str, reservation_id: ReservationId | str) -> ReservationView:
        rid = values.reservation_id(reservation_id)
        now = await self._clock.now()
        place = await self._gate.place(token, now)
        async with self._uow() as uow:
            reservation = await uow.reservations.get(rid)
        if reservation is None:
            raise NotFoundError(f"reservation {rid} does not exist")
        reservation.check_owner(place.token.user_id)
        return ReservationView.of(reservation, now)
