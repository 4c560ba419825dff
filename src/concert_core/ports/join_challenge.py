"""The join challenge: a proof of work a fan solves before joining a concert whose sale
asks for one (docs/contract.md §9)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from attrs import frozen

from concert_core.domain import ConcertId


@frozen
class JoinChallenge:
    """A challenge in the ALTCHA format: find the integer ``n``, 0 <= n <= ``maxnumber``,
    with ``sha256(salt + str(n)).hexdigest() == challenge``. The salt names the concert
    and the instant the challenge expires; the signature makes it the service's own."""

    algorithm: str
    challenge: str
    salt: str
    signature: str
    maxnumber: int


@frozen
class ProofSpend:
    """What redeeming a verified proof records: its ``solution`` (the challenge it
    solves: a challenge has one solution) used for joining ``concert_id``, remembered
    at least until ``expires_at``, after which the challenge is refused as expired."""

    concert_id: ConcertId
    solution: str
    expires_at: dt.datetime


class JoinChallenges(Protocol):
    """Issues join challenges and redeems their solutions, each once for all instances."""

    def issue(self, concert_id: ConcertId, now: dt.datetime) -> JoinChallenge:
        """A new challenge for joining the concert, good for a few minutes from ``now``.
        Pure computation (and randomness), so not async."""
        ...

    def verify(self, proof: str, concert_id: ConcertId, now: dt.datetime) -> ProofSpend | None:
        """The spend ``proof`` (a solution as the client sends it) would make, if it is
        a well-formed solution of a challenge this service issued for ``concert_id``,
        not expired at ``now``; None for anything else. Whether it was spent already
        is not looked at: pure computation, so not async, and it never raises for a
        malformed proof. A ``ProofSpendingQueue`` spends it as it issues a token."""
        ...

    async def redeem(self, proof: str, concert_id: ConcertId, now: dt.datetime) -> bool:
        """Verify ``proof`` (a solution as the client sends it) and spend it, in one step.

        True once: for a well-formed solution of a challenge this service issued for
        ``concert_id``, not expired at ``now``, spent by no earlier call of any
        instance. False, spending nothing, for anything else; never raises for a
        malformed proof.
        """
        ...

    async def give_back(self, proof: str, concert_id: ConcertId) -> None:
        """Unspend a proof ``redeem`` accepted, when the join it paid for failed (storage
        refused the issue): the fan may send it again while it lasts."""
        ...
