from __future__ import annotations

from concert_core.domain import NotFoundError, ReservationId
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

    async def __call__(self, token: str, reservation_id: ReservationId) -> ReservationView:
        now = await self._clock.now()
        claims = self._gate.claims(token)
        async with self._uow() as uow:
            reservation = await uow.reservations.get(reservation_id)
        if reservation is None:
            raise NotFoundError(f"reservation {reservation_id} does not exist")
        reservation.check_owner(claims.user_id)
        await self._gate.require_active(token, reservation.concert_id, now)
        async with self._uow() as uow:
            released = await uow.reservations.release(reservation_id, claims.user_id, now)
            await uow.commit()
        return ReservationView.of(released, now)
