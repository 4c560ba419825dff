from __future__ import annotations

from attrs import frozen

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
    - every lapsed hold is marked RELEASED and its seat freed. (A token's holds never
      outlive it: holding extends the token to at least the hold's expiry, so when an
      active token runs out, its holds have lapsed already.)
    """

    def __init__(self, queue: QueueStore, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._queue = queue
        self._uow = uow
        self._clock = clock

    async def __call__(self) -> ExpiryReport:
        now = await self._clock.now()
        async with self._uow() as uow:
            concerts = await uow.catalogue.list_concerts()
        tokens = 0
        for concert in concerts:
            tokens += len(await self._queue.expire_lapsed(concert.concert_id, now))
        holds = 0
        while True:
            async with self._uow() as uow:
                released = await uow.reservations.release_lapsed(now, _BATCH)
                await uow.commit()
            holds += released
            if released < _BATCH:
                return ExpiryReport(tokens, holds)
