from __future__ import annotations

from concert_core.domain import ReservationId
from concert_core.ports import Clock, UnitOfWorkFactory
from concert_core.use_cases._gate import TokenGate
from concert_core.use_cases._owned_reservation import owned_reservation
from concert_core.use_cases._views import ReservationView


class GetReservation:
    """A reservation, to its owner.

    Rules:
    - needs a token the queue knows, in any state (a buyer's token is EXPIRED after
      paying and may still look at the purchase);
    - an unknown reservation is NOT_FOUND; another user's is NOT_OWNER;
    - a lapsed hold reads as RELEASED.
    """

    def __init__(self, gate: TokenGate, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._gate = gate
        self._uow_factory = uow_factory
        self._clock = clock

    async def __call__(self, token: str, reservation_id: ReservationId | str) -> ReservationView:
        now = await self._clock.now()
        _, reservation = await owned_reservation(
            self._gate, self._uow_factory, token, reservation_id, now
        )
        return ReservationView.of(reservation, now)
