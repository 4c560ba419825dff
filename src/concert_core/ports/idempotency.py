"""First results of keyed requests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Protocol
from uuid import UUID

from attrs import frozen

from concert_core.domain import (
    UserId,
)

JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


@frozen
class IdempotencyKey:
    """A client's key, scoped to its user and to one operation."""

    user_id: UserId
    operation: str
    key: str


class IdempotencyStore(Protocol):
    """First results of charges and payments, kept for the policy's retention time.

    A claim is named by the ``claim_id`` its ``begin`` was given: ``complete`` and
    ``abandon`` act only while that claim still holds the key, so a run that outlived
    its lease cannot touch the claim of the retry that took over.
    """

    async def begin(
        self, key: IdempotencyKey, fingerprint: str, claim_id: UUID, now: dt.datetime
    ) -> Mapping[str, JsonValue] | None:
        """Claim the key, or return the stored first result.

        None means the caller now runs the request and must ``complete`` or
        ``abandon``. Raises IdempotencyInProgressError while another claim's lease runs,
        IdempotencyKeyReusedError when the fingerprint differs from the first request's.
        """
        ...

    async def complete(
        self,
        key: IdempotencyKey,
        claim_id: UUID,
        result: Mapping[str, JsonValue],
        now: dt.datetime,
    ) -> None:
        """Keep ``result`` as the key's first result, if ``claim_id`` holds the key."""
        ...

    async def abandon(self, key: IdempotencyKey, claim_id: UUID) -> None:
        """Give the claim up (the request failed and changed nothing)."""
        ...
