from __future__ import annotations

import datetime as dt
import logging
import uuid

from attrs import field, frozen

from concert_core.domain import (
    ConcertId,
    Reservation,
    ReservationId,
    SeatKey,
    SeatNo,
    TokenNotActiveError,
    TokenStatus,
    values,
)
from concert_core.policy import Policy
from concert_core.ports import BoxOffice, Clock, HoldRequest, QueueStore, UnitOfWorkFactory
from concert_core.use_cases._best_effort import best_effort
from concert_core.use_cases._gate import TokenGate
from concert_core.use_cases._views import ReservationView

_log = logging.getLogger(__name__)


@frozen
class HoldSeatCommand:
    token: str
    concert_id: ConcertId = field(converter=values.concert_id)
    date: dt.date = field(converter=values.calendar_date)
    seat_no: SeatNo = field(converter=values.seat_no)


@frozen
class HoldResult:
    reservation: ReservationView
    created: bool
    """False when the user already held this seat and got that hold back."""


class HoldSeat:
    """Hold a seat for the hold TTL, creating a HELD reservation.

    Rules:
    - needs an ACTIVE token for this concert;
    - the seat must be AVAILABLE or held with a lapsed hold (SEAT_UNAVAILABLE), and
      exist (NOT_FOUND);
    - the user's own live hold on the seat is returned as it is;
    - a user holds at most ``max_holds_per_user`` seats per concert (HOLD_LIMIT_REACHED);
    - the token is extended to at least the hold's expiry, so the holder can pay in
      time; if the token ended meanwhile (or cannot be reached), the hold is given back.
    Seat state, hold limit and reservation are one atomic storage operation.
    """

    def __init__(
        self,
        gate: TokenGate,
        queue: QueueStore,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        policy: Policy,
        box_office: BoxOffice,
    ) -> None:
        self._gate = gate
        self._queue = queue
        self._uow_factory = uow_factory
        self._box_office = box_office
        self._clock = clock
        self._policy = policy

    async def __call__(self, command: HoldSeatCommand) -> HoldResult:
        now = await self._clock.now()
        token = await self._gate.require_active(command.token, command.concert_id, now)
        if not token.may_hold_at(now):
            raise TokenNotActiveError(
                "the turn's time is over: pay for or release what you hold",
                token_status=TokenStatus.ACTIVE,
                position=None,
            )
        request = HoldRequest(
            seat=SeatKey(command.concert_id, command.date, command.seat_no),
            user_id=token.user_id,
            token_id=token.token_id,
            reservation_id=ReservationId(uuid.uuid4()),
            now=now,
            until=now + self._policy.hold_ttl,
            max_holds=self._policy.max_holds_per_user,
        )
        outcome = await self._box_office.hold(request)
        reservation = outcome.reservation
        # Judged at this instant, not at the start: the token may have lapsed meanwhile.
        later = await self._clock.now()
        try:
            extended = await self._queue.extend_active(
                token.concert_id, token.token_id, reservation.held_until, later
            )
        except BaseException:
            await self._give_back(reservation, later)
            raise
        if not extended:
            await self._give_back(reservation, later)
            raise TokenNotActiveError(
                "the token expired while the seat was being held",
                token_status=TokenStatus.EXPIRED,
                position=None,
            )
        return HoldResult(ReservationView.of(reservation, now), outcome.created)

    async def _give_back(self, reservation: Reservation, now: dt.datetime) -> None:
        """Release a hold whose token could not be kept alive to cover it: a hold never
        outlives its turn. Best effort: failing that, the hold lapses at its time."""
        with best_effort(_log, "a hold without a live token could not be given back"):
            async with self._uow_factory() as uow:
                await uow.reservations.release(reservation.reservation_id, reservation.user_id, now)
                await uow.commit()
