from __future__ import annotations

import datetime as dt

from attrs import frozen

from concert_core.domain import QueueToken, TokenStatus
from concert_core.ports import Clock, QueueStore, UnitOfWorkFactory

_BATCH = 500


@frozen
class ExpiryReport:
    tokens_expired: int
    holds_released: int


class ExpireLapsed:
    """Clean up what time has already ended: lapsed tokens and lapsed holds.

    Correctness never waits for this: a lapsed token or hold is judged EXPIRED or
    AVAILABLE at once wherever it is read. This pass only tidies storage so the line
    moves up, the ACTIVE count is exact, and stored states match what readers see.

    Rules:
    - ACTIVE tokens past their time and WAITING tokens idle past the timeout expire;
    - the holds made under an active token this pass ended are released (normally none
      are left: holding extends the token to at least the hold's expiry);
    - every lapsed hold is marked RELEASED and its seat freed.
    """

    def __init__(self, queue: QueueStore, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._queue = queue
        self._uow_factory = uow_factory
        self._clock = clock

    async def __call__(self) -> ExpiryReport:
        now = await self._clock.now()
        async with self._uow_factory() as uow:
            concerts = await uow.catalogue.list_concerts()
        tokens = holds = 0
        for concert in concerts:
            while True:
                ended = await self._queue.expire_lapsed(concert.concert_id, now, _BATCH)
                tokens += len(ended)
                holds += await self._release_holds_of(
                    [t for t in ended if t.status is TokenStatus.ACTIVE], now
                )
                if len(ended) < _BATCH:
                    break
        while True:
            async with self._uow_factory() as uow:
                released = await uow.reservations.release_lapsed(now, _BATCH)
                await uow.commit()
            holds += released
            if released < _BATCH:
                return ExpiryReport(tokens, holds)

    async def _release_holds_of(self, tokens: list[QueueToken], now: dt.datetime) -> int:
        if not tokens:
            return 0
        released = 0
        async with self._uow_factory() as uow:
            for token in tokens:
                released += await uow.reservations.release_holds_of_token(token.token_id, now)
            await uow.commit()
        return released
