"""Used join-challenge solutions, in the process (``memory://``: one instance)."""

from __future__ import annotations

import datetime as dt
import heapq

from adapters.challenge import SPENT_MARGIN
from concert_core.domain import ConcertId


class MemorySpentProofs:
    """The SpentProofs of ``adapters.challenge``: a set, and a heap of when each entry
    may go. A spend has no await inside, so it is one atomic step on the event loop."""

    def __init__(self) -> None:
        self._spent: set[tuple[ConcertId, str]] = set()
        self._forget: list[tuple[dt.datetime, ConcertId, str]] = []

    async def spend(
        self, concert_id: ConcertId, challenge: str, expires_at: dt.datetime, now: dt.datetime
    ) -> bool:
        while self._forget and self._forget[0][0] < now:
            _, concert, old = heapq.heappop(self._forget)
            self._spent.discard((concert, old))
        if (concert_id, challenge) in self._spent:
            return False
        self._spent.add((concert_id, challenge))
        heapq.heappush(self._forget, (expires_at + SPENT_MARGIN, concert_id, challenge))
        return True

    def __len__(self) -> int:
        return len(self._spent)
