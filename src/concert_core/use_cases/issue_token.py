from __future__ import annotations

import uuid

from attrs import field, frozen

from concert_core.domain import ConcertId, TokenId, UserId, values
from concert_core.policy import Policy
from concert_core.ports import Clock, QueueStore, TokenCodec
from concert_core.use_cases._known_concerts import KnownConcerts
from concert_core.use_cases._views import QueueView, queue_view


@frozen
class IssueTokenCommand:
    user_id: UserId = field(converter=values.user_id)
    concert_id: ConcertId = field(converter=values.concert_id)


@frozen
class IssuedToken:
    token: str
    created: bool
    """False when the user's live token was returned with its place unchanged."""
    view: QueueView


class IssueToken:
    """Enter a concert's waiting room.

    Rules:
    - the concert must exist (NOT_FOUND);
    - a user with a WAITING or ACTIVE token for the concert gets that same token and
      place back (same id and sequence), and the request counts as a poll;
    - otherwise a new WAITING token takes the next global issue sequence number.
    """

    def __init__(
        self,
        concerts: KnownConcerts,
        queue: QueueStore,
        codec: TokenCodec,
        clock: Clock,
        policy: Policy,
    ) -> None:
        self._concerts = concerts
        self._queue = queue
        self._codec = codec
        self._clock = clock
        self._policy = policy

    async def __call__(self, command: IssueTokenCommand) -> IssuedToken:
        await self._concerts.require(command.concert_id)
        now = await self._clock.now()
        outcome = await self._queue.issue(
            command.user_id, command.concert_id, TokenId(uuid.uuid4()), now
        )
        view = queue_view(outcome.place, self._policy)
        return IssuedToken(self._codec.encode(outcome.place.token.claims), outcome.created, view)
