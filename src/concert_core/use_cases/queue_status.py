from __future__ import annotations

from concert_core.policy import Policy
from concert_core.ports import Clock
from concert_core.use_cases._gate import TokenGate
from concert_core.use_cases._views import QueueView, queue_view


class QueueStatus:
    """A token's state, position, estimated wait and polling hint.

    Rules:
    - any known token may ask, whatever its state; an unknown one is TOKEN_INVALID;
    - asking records a poll, which keeps a WAITING token's place (idle timeout);
    - position is 1-based: WAITING tokens ahead, plus one;
    - the estimated wait comes from the recent admission rate, else from
      position x active TTL / capacity;
    - ``poll_after_seconds`` grows with the position, at most a third of the idle timeout.
    """

    def __init__(self, gate: TokenGate, clock: Clock, policy: Policy) -> None:
        self._gate = gate
        self._clock = clock
        self._policy = policy

    async def __call__(self, token: str) -> QueueView:
        now = await self._clock.now()
        place = await self._gate.place(token, now, poll=True)
        return queue_view(place, self._policy)
