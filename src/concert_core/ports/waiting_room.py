"""The waiting room's shared state."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from concert_core.domain.queue import IssueOutcome, QueuePlace, QueueStats, QueueToken
from concert_core.domain.values import ConcertId, TokenId, UserId
from concert_core.ports.join_challenge import ProofSpend


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

    async def live_token(
        self, user_id: UserId, concert_id: ConcertId, now: dt.datetime
    ) -> QueueToken | None:
        """The user's token for the concert that is WAITING or ACTIVE at ``now`` (the
        one ``issue`` would give back), or None; records nothing."""
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
        """Keep a token that may take a hold at ``now`` (ACTIVE, before its base end)
        alive until at least ``until`` (the hold's expiry); False, changing nothing,
        for any other token.

        A token that any mutating operation has judged lapsed is ended in storage by
        that operation (it stopped counting against the capacity), so no later call,
        even one carrying an earlier ``now``, can bring it back.
        """
        ...

    async def retract_hold(
        self,
        concert_id: ConcertId,
        token_id: TokenId,
        ended_until: dt.datetime,
        remaining_until: dt.datetime | None,
        now: dt.datetime,
    ) -> None:
        """A hold of the token that reached to ``ended_until`` was released: the token is
        kept past its base end only by its remaining holds (``remaining_until``, the
        latest one's expiry, or None), unless a later hold extended it meanwhile. A
        token past its base end with no hold left ends now."""
        ...

    async def open(self, concert_id: ConcertId, seed: int, now: dt.datetime) -> int:
        """Open the concert's line, once for all instances: the live WAITING tokens
        (the pre-queue) are put in the order of ``shuffle_key(seed, token_id)``, in the
        places their sequence numbers held, so all stay ahead of every later arrival;
        FIFO after that. Returns the seed the line was opened with (an earlier
        opening's, if there was one)."""
        ...

    async def admit(
        self,
        concert_id: ConcertId,
        now: dt.datetime,
        *,
        capacity: int | None = None,
        per_minute: int | None = None,
        per_pass: int | None = None,
    ) -> list[QueueToken]:
        """One admission pass: take idle WAITING tokens out of the line, then fill free
        active places with the earliest WAITING tokens, never exceeding ``capacity``
        (None: the policy's). With ``per_minute``, no 60 seconds admit more than that
        many (counting every pass of every instance); with ``per_pass``, this pass
        admits at most that many. Safe to run from many processes at once. Returns the
        tokens admitted, in line order."""
        ...

    async def end_waiting(self, concert_id: ConcertId, now: dt.datetime, limit: int) -> int:
        """End up to ``limit`` WAITING tokens of the concert (it sold out or closed);
        returns how many ended. ACTIVE tokens keep their turn."""
        ...

    async def expire_lapsed(
        self, concert_id: ConcertId, now: dt.datetime, limit: int
    ) -> list[QueueToken]:
        """End up to ``limit`` ACTIVE tokens past their time and idle WAITING tokens.

        Returns the tokens this call ended, as they were just before (so a caller can
        tell which were ACTIVE); tokens other operations ended already are not returned.
        """
        ...

    async def stats(self, concert_id: ConcertId, now: dt.datetime) -> QueueStats:
        """Live WAITING and ACTIVE tokens, admissions over the last minute, and the seed
        the line was opened with (None before the opening)."""
        ...


class ProofSpendingQueue(Protocol):
    """A queue store that spends join-challenge proofs as it issues tokens: the proofs
    are kept where the storage family's ``JoinChallenges`` spend them, so a proof is
    spent once whichever of the two spends it."""

    async def issue_proved(
        self,
        user_id: UserId,
        concert_id: ConcertId,
        token_id: TokenId,
        proof: ProofSpend | None,
        now: dt.datetime,
    ) -> IssueOutcome | None:
        """``issue`` for a concert whose sale asks for a join challenge, with the proof's
        spend in the same atomic operation: the user's live token (seen now) spending
        nothing; else, with a proof spent by no earlier call of any instance, the proof
        spent and a new token issued (as ``issue`` issues it); else (no proof, or one
        spent before) None, and nothing changed."""
        ...
