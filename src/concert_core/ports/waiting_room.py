"""The waiting room's shared state."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from concert_core.domain.queue import IssueOutcome, QueuePlace, QueueStats, QueueToken
from concert_core.domain.values import ConcertId, TokenId, UserId


class QueueStore(Protocol):
    """The waiting room's shared state. Every method is one atomic operation.

    A store is built with the ``Policy`` whose idle timeout and active TTL it applies.
    Order comes only from an issue sequence shared by all instances, never from a
    clock. A WAITING token idle past the timeout, or an ACTIVE one past
    ``active_until``, is EXPIRED when looked at; an idle token leaves the line at the
    latest at the next admission or expiry pass, and is never admitted.
    """

    async def issue(
        self, user_id: UserId, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> IssueOutcome:
        """Return the user's live token for the concert (and see it), or issue one.

        A new token is WAITING, has the id ``token_id``, and takes a sequence number
        greater than that of every token already issued for this concert by any
        instance (gaps allowed; numbers compare within a concert). It is in the line
        once the call returns, so no admission can pass it by.
        """
        ...

    async def look(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueuePlace | None:
        """The token's state, position and its concert's admission rate at ``now``,
        without recording a poll."""
        ...

    async def poll(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueuePlace | None:
        """As ``look``, and record the poll (keeping a WAITING token's place)."""
        ...

    async def expire(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueueToken | None:
        """End a live token (leaving, paying). Returns it if it was live, else None."""
        ...

    async def extend_active(
        self, concert_id: ConcertId, token_id: TokenId, until: dt.datetime, now: dt.datetime
    ) -> bool:
        """Keep a token that is ACTIVE at ``now`` alive until at least ``until``.

        A token that any mutating operation has judged lapsed is ended in storage by
        that operation (it stopped counting against the capacity), so no later call,
        even one carrying an earlier ``now``, can bring it back.
        """
        ...

    async def admit(self, concert_id: ConcertId, now: dt.datetime) -> list[QueueToken]:
        """One admission pass: take idle WAITING tokens out of the line, then fill free
        active places with the earliest WAITING tokens, never exceeding the capacity.
        Safe to run from many processes at once. Returns the tokens admitted, in
        sequence order."""
        ...

    async def expire_lapsed(
        self, concert_id: ConcertId, now: dt.datetime, limit: int
    ) -> list[QueueToken]:
        """End up to ``limit`` ACTIVE tokens past their time and idle WAITING tokens.

        Returns the tokens this call ended, as they were just before (so a caller can
        tell which were ACTIVE); tokens other operations ended already are not returned.
        """
        ...

    async def stats(self, concert_id: ConcertId, now: dt.datetime) -> QueueStats: ...
