from __future__ import annotations

from concert_core.domain import NotFoundError, ReservationId, values
from concert_core.ports import Clock, UnitOfWorkFactory
from concert_core.use_cases._gate import TokenGate
from concert_core.use_cases._views import ReservationView


class ReleaseHold:
    """Give a hold up before it lapses, freeing the seat at once.

    Rules:
    - needs the owner's ACTIVE token for the reservation's concert;
    - unknown is NOT_FOUND, another user's is NOT_OWNER, a paid one is HOLD_EXPIRED;
    - releasing a hold that already lapsed or was released changes nothing.
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
        user = place.token.user_id
        reservation.check_owner(user)
        self._gate.check_active(place, reservation.concert_id)
        async with self._uow() as uow:
            released = await uow.reservations.release(rid, user, now)
            await uow.commit()
        return ReservationView.of(released, now)
