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


class JoinChallenges(Protocol):
    """Issues join challenges and redeems their solutions, each once for all instances."""

    def issue(self, concert_id: ConcertId, now: dt.datetime) -> JoinChallenge:
        """A new challenge for joining the concert, good for a few minutes from ``now``.
        Pure computation (and randomness), so not async."""
        ...

    async def redeem(self, proof: str, concert_id: ConcertId, now: dt.datetime) -> bool:
        """Verify ``proof`` (a solution as the client sends it) and spend it, in one step.

        True once: for a well-formed solution of a challenge this service issued for
        ``concert_id``, not expired at ``now``, spent by no earlier call of any
        instance. False, spending nothing, for anything else; never raises for a
        malformed proof.
        """
        ...
