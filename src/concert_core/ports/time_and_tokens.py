"""The clock every rule is judged by, and the codec of queue token strings."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from concert_core.domain import (
    TokenClaims,
)


class Clock(Protocol):
    """The time every rule is judged by. Scaled deployments share one (the storage's)."""

    async def now(self) -> dt.datetime:
        """The current instant, timezone-aware."""
        ...


class TokenCodec(Protocol):
    """Signs and verifies queue token strings. Pure computation, so not async."""

    def encode(self, claims: TokenClaims) -> str: ...

    def decode(self, token: str) -> TokenClaims:
        """Raise TokenInvalidError for a malformed or forged token."""
        ...
