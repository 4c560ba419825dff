from __future__ import annotations

import uuid

from attrs import field, frozen

from concert_core.domain import (
    ConcertId,
    Phase,
    SaleClosedError,
    SaleNotOpenError,
    TokenId,
    UserId,
    values,
)
from concert_core.policy import Policy
from concert_core.ports import Clock, QueueStore, TokenCodec
from concert_core.use_cases._sales import LineOpenings, SaleBook
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
    - before the pre-queue (or the opening, without one) nobody may join
      (SALE_NOT_OPEN); a sold-out or closed sale takes no one (SALE_CLOSED); a paused
      sale takes joins as the phase it pauses;
    - during the pre-queue a fan joins with no position: the opening draws the order;
    - a user with a WAITING or ACTIVE token for the concert gets that same token and
      place back (same id and sequence), and the request counts as a poll;
    - otherwise a new WAITING token takes the next global issue sequence number;
      once the sale is open the line is opened first, so nobody who joins after the
      opening is ahead of anybody pre-queued.
    """

    def __init__(
        self,
        sales: SaleBook,
        openings: LineOpenings,
        queue: QueueStore,
        codec: TokenCodec,
        clock: Clock,
        policy: Policy,
    ) -> None:
        self._sales = sales
        self._openings = openings
        self._queue = queue
        self._codec = codec
        self._clock = clock
        self._policy = policy

    async def __call__(self, command: IssueTokenCommand) -> IssuedToken:
        now = await self._clock.now()
        sale = await self._sales.state(command.concert_id, now)
        entry = sale.entry_at(now)
        settings = sale.concert.sale
        if entry is Phase.SCHEDULED:
            raise SaleNotOpenError(
                f"concert {command.concert_id} is not on sale yet",
                opens_at=settings.opens_at,
                prequeue_opens_at=settings.prequeue_opens_at,
            )
        if entry.ended:
            raise SaleClosedError(
                f"concert {command.concert_id} is {entry.value.lower().replace('_', ' ')}",
                phase=entry,
            )
        if entry is Phase.OPEN:
            await self._openings.ensure_open(command.concert_id, now)
        outcome = await self._queue.issue(
            command.user_id, command.concert_id, TokenId(uuid.uuid4()), now
        )
        view = queue_view(outcome.place, sale, self._policy, now)
        return IssuedToken(self._codec.encode(outcome.place.token.claims), outcome.created, view)
