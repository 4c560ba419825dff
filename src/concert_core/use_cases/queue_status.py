from __future__ import annotations

from concert_core.domain import Phase, TokenStatus
from concert_core.policy import Policy
from concert_core.ports import Clock, QueueStore
from concert_core.use_cases._gate import TokenGate
from concert_core.use_cases._sales import LineOpenings, SaleBook
from concert_core.use_cases._views import QueueView, queue_view


class QueueStatus:
    """A token's state, position, estimated wait, polling hint and the sale's news.

    Rules:
    - any known token may ask, whatever its state; an unknown one is TOKEN_INVALID;
    - asking records a poll, which keeps a WAITING token's place (idle timeout);
    - position is 1-based: WAITING tokens ahead, plus one; during the pre-queue there
      is none yet, and the hint points just past the opening;
    - once the sale is sold out or closed, a WAITING token ends (EXPIRED); an ACTIVE
      one keeps its turn;
    - the estimated wait comes from the recent admission rate, else from
      position x active TTL / the sale's capacity;
    - ``poll_after_seconds`` grows with the position, at most a third of the idle timeout.
    """

    def __init__(
        self,
        gate: TokenGate,
        sales: SaleBook,
        openings: LineOpenings,
        queue: QueueStore,
        clock: Clock,
        policy: Policy,
    ) -> None:
        self._gate = gate
        self._sales = sales
        self._openings = openings
        self._queue = queue
        self._clock = clock
        self._policy = policy

    async def __call__(self, token: str) -> QueueView:
        now = await self._clock.now()
        claims = self._gate.claims(token)
        sale = await self._sales.state(claims.concert_id, now)
        entry = sale.entry_at(now)
        if entry is Phase.OPEN:
            await self._openings.ensure_open(claims.concert_id, now)
        place = await self._gate.place(token, now, poll=True)
        if entry.ended and place.status is TokenStatus.WAITING:
            await self._queue.expire(claims.concert_id, claims.token_id, now)
            place = await self._gate.place(token, now)
        return queue_view(place, sale, self._policy, now)
