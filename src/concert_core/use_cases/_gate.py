"""Token checks shared by the use cases that need a queue token."""

from __future__ import annotations

import datetime as dt

from concert_core.domain import (
    ConcertId,
    QueuePlace,
    QueueToken,
    TokenClaims,
    TokenInvalidError,
    TokenNotActiveError,
    TokenStatus,
)
from concert_core.ports import QueueStore, TokenCodec


class TokenGate:
    """Turns a token string into the server's view of it, enforcing its state.

    The string only names the token; its state is the queue store's. A string whose
    claims do not match the stored token (user, sequence) is as good as forged.
    """

    def __init__(self, codec: TokenCodec, queue: QueueStore) -> None:
        self._codec = codec
        self._queue = queue

    def claims(self, token: str) -> TokenClaims:
        return self._codec.decode(token)

    async def place(self, token: str, now: dt.datetime, *, poll: bool = False) -> QueuePlace:
        """The token's current state (any state); TokenInvalidError if unknown."""
        claims = self.claims(token)
        look = self._queue.poll if poll else self._queue.look
        place = await look(claims.concert_id, claims.token_id, now)
        if place is None or place.token.claims != claims:
            raise TokenInvalidError("the queue does not know this token")
        return place

    async def require_active(
        self, token: str, concert_id: ConcertId, now: dt.datetime
    ) -> QueueToken:
        """The token, if it is ACTIVE for ``concert_id``; TokenNotActiveError otherwise."""
        place = await self.place(token, now)
        self.check_active(place, concert_id)
        return place.token

    @staticmethod
    def check_active(place: QueuePlace, concert_id: ConcertId) -> None:
        """TokenNotActiveError unless the token is ACTIVE for ``concert_id``."""
        if place.status is not TokenStatus.ACTIVE:
            raise TokenNotActiveError(
                f"the token is {place.status}, not ACTIVE",
                token_status=place.status,
                position=place.position,
            )
        if place.token.concert_id != concert_id:
            raise TokenNotActiveError(
                f"the token is for concert {place.token.concert_id}, not {concert_id}",
                token_status=place.status,
                position=None,
            )
