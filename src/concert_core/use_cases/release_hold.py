from __future__ import annotations

from concert_core.domain import ReservationId
from concert_core.ports import Clock, QueueStore, UnitOfWorkFactory
from concert_core.use_cases._gate import TokenGate
from concert_core.use_cases._owned_reservation import owned_reservation
from concert_core.use_cases._views import ReservationView


class ReleaseHold:
    """Give a hold up before it lapses, freeing the seat at once.

    Rules:
    - needs the owner's ACTIVE token for the reservation's concert;
    - unknown is NOT_FOUND, another user's is NOT_OWNER, a paid one is HOLD_EXPIRED;
    - releasing a hold that already lapsed or was released changes nothing;
    - the released hold no longer extends the turn: past its base end, a turn with no
      hold left ends.
    """

    def __init__(
        self, gate: TokenGate, queue: QueueStore, uow_factory: UnitOfWorkFactory, clock: Clock
    ) -> None:
        self._gate = gate
        self._queue = queue
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
            remaining = await uow.reservations.live_holds_of_token(place.token.token_id, now)
            await uow.commit()
        if reservation.token_id == place.token.token_id:
            # The hold extends the turn no longer: only the holds that remain do.
            await self._queue.retract_hold(
                reservation.concert_id,
                place.token.token_id,
                reservation.held_until,
                max((r.held_until for r in remaining), default=None),
                now,
            )
        return ReservationView.of(released, now)
