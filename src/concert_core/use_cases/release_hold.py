from __future__ import annotations

from concert_core.domain import ReservationId
from concert_core.ports import Clock, UnitOfWorkFactory
from concert_core.use_cases._gate import TokenGate
from concert_core.use_cases._owned_reservation import owned_reservation
from concert_core.use_cases._views import ReservationView


class ReleaseHold:
    """Give a hold up before it lapses, freeing the seat at once.

    Rules:
    - needs the owner's ACTIVE token for the reservation's concert;
    - unknown is NOT_FOUND, another user's is NOT_OWNER, a paid one is HOLD_EXPIRED;
    - releasing a hold that already lapsed or was released changes nothing.
    """

    def __init__(self, gate: TokenGate, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._gate = gate
        self._uow_factory = uow_factory
        self._clock = clock

    async def __call__(self, token: str, reservation_id: ReservationId | str) -> ReservationView:
        now = await self._clock.now()
        place, reservation = await owned_reservation(
            self._gate, self._uow_factory, token, reservation_id, now
        )
        self._gate.check_active(place, reservation.concert_id)
        async with self._uow_factory() as uow:
            released = await uow.reservations.release(
                reservation.reservation_id, place.token.user_id, now
            )
            await uow.commit()
        return ReservationView.of(released, now)
