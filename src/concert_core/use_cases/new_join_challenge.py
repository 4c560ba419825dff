from __future__ import annotations

from concert_core.domain import ChallengeFailedError, values
from concert_core.ports import Clock, JoinChallenge, JoinChallenges
from concert_core.use_cases._sales import SaleBook


class NewJoinChallenge:
    """A join challenge for a concert (docs/contract.md §9).

    Rules:
    - the concert must exist (NOT_FOUND); any concert gets one, whether or not its sale
      asks for it, in any phase;
    - the challenge names the concert and expires a few minutes after ``now``; solved,
      it lets one user join that concert once.
    """

    def __init__(self, sales: SaleBook, challenges: JoinChallenges | None, clock: Clock) -> None:
        self._sales = sales
        self._challenges = challenges
        self._clock = clock

    async def __call__(self, concert_id: int) -> JoinChallenge:
        concert = values.concert_id(concert_id)
        now = await self._clock.now()
        await self._sales.state(concert, now)
        if self._challenges is None:
            raise ChallengeFailedError("this service issues no join challenges")
        return self._challenges.issue(concert, now)
