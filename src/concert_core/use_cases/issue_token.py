from __future__ import annotations

import uuid

from attrs import field, frozen

from concert_core.domain import ConcertId, NotFoundError, TokenId, UserId, values
from concert_core.policy import Policy
from concert_core.ports import Clock, QueueStore, TokenCodec, UnitOfWorkFactory
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
        uow: UnitOfWorkFactory,
        queue: QueueStore,
        codec: TokenCodec,
        clock: Clock,
        policy: Policy,
    ) -> None:
        self._uow = uow
        self._queue = queue
        self._codec = codec
        self._clock = clock
        self._policy = policy
        self._known_concerts: set[ConcertId] = set()
        """Concerts found to exist. Concerts are never removed, so a stampede of token
        requests needs one catalogue read per concert, not one per request."""

    async def __call__(self, command: IssueTokenCommand) -> IssuedToken:
        if command.concert_id not in self._known_concerts:
            async with self._uow() as uow:
                if await uow.catalogue.get_concert(command.concert_id) is None:
                    raise NotFoundError(f"concert {command.concert_id} does not exist")
            self._known_concerts.add(command.concert_id)
        now = await self._clock.now()
        outcome = await self._queue.issue(
            command.user_id, command.concert_id, TokenId(uuid.uuid4()), now
        )
        view = queue_view(outcome.place, self._policy)
        return IssuedToken(self._codec.encode(outcome.place.token.claims), outcome.created, view)
