from __future__ import annotations

from concert_core.domain import TokenNotActiveError, TokenStatus
from concert_core.ports import Clock, QueueStore, UnitOfWorkFactory
from concert_core.use_cases._gate import TokenGate


class LeaveQueue:
    """Leave the waiting room or give up an active place.

    Rules:
    - only a live (WAITING or ACTIVE) token can leave; an EXPIRED one is TOKEN_NOT_ACTIVE;
    - the token becomes EXPIRED, freeing its place for the next in line;
    - the unpaid holds made under the token are released.
    """

    def __init__(
        self, gate: TokenGate, queue: QueueStore, uow_factory: UnitOfWorkFactory, clock: Clock
    ) -> None:
        self._gate = gate
        self._queue = queue
        self._uow_factory = uow_factory
        self._clock = clock

    async def __call__(self, token: str) -> None:
        now = await self._clock.now()
        place = await self._gate.place(token, now)
        ended = await self._queue.expire(place.token.concert_id, place.token.token_id, now)
        if ended is None:
            raise TokenNotActiveError(
                "the token has already expired", token_status=TokenStatus.EXPIRED, position=None
            )
        async with self._uow_factory() as uow:
            await uow.reservations.release_holds_of_token(ended.token_id, now)
            await uow.commit()
