"""Domain errors: one class per rule of the error table (docs/contract.md §4) that the
core enforces.

Every error carries a stable machine-readable ``code``; entrypoints map codes to
transport details (HTTP status, exit code) in one table of their own.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar


class DomainError(Exception):
    """A rule of the domain would break; nothing was changed.

    ``default_detail`` is the sentence an error of that class says when the raiser has
    nothing to add, so every store words one refusal the same way.
    """

    code: ClassVar[str] = "DOMAIN_ERROR"
    default_detail: ClassVar[str] = "the request breaks a rule of the service"

    def __init__(self, detail: str | None = None) -> None:
        detail = self.default_detail if detail is None else detail
        super().__init__(detail)
        self.detail = detail


class ValidationError(DomainError):
    """Input outside what the domain accepts (seat number, date, amount, shape)."""

    code = "VALIDATION_ERROR"


class TokenInvalidError(DomainError):
    """A queue token that is missing, malformed, forged or unknown to the queue."""

    code = "TOKEN_INVALID"


class IdentityInvalidError(DomainError):
    """Verified identity is on (docs/contract.md §9) and the fan's identity token is
    missing, malformed, forged, expired, or for another issuer or audience."""

    code = "IDENTITY_INVALID"
    default_detail = (
        "this route needs the identity provider's token, sent as Authorization: Bearer <token>"
    )


class TokenNotActiveError(DomainError):
    """The token is WAITING or EXPIRED, or belongs to another concert."""

    code = "TOKEN_NOT_ACTIVE"

    def __init__(self, detail: str, *, token_status: str, position: int | None) -> None:
        super().__init__(detail)
        self.token_status = token_status
        self.position = position


class NotOwnerError(DomainError):
    """The reservation belongs to another user."""

    code = "NOT_OWNER"


class NotFoundError(DomainError):
    """An unknown concert, date, seat or reservation."""

    code = "NOT_FOUND"


class SeatUnavailableError(DomainError):
    """The seat is held or sold by someone else."""

    code = "SEAT_UNAVAILABLE"


class HoldLimitReachedError(DomainError):
    """The user already holds the most seats allowed for this concert."""

    code = "HOLD_LIMIT_REACHED"


class IdempotencyInProgressError(DomainError):
    """A request with the same idempotency key is still running."""

    code = "IDEMPOTENCY_IN_PROGRESS"
    default_detail = "a request with this Idempotency-Key is still running"


class IdempotencyKeyReusedError(DomainError):
    """The idempotency key was first used with a different request."""

    code = "IDEMPOTENCY_KEY_REUSED"
    default_detail = "this Idempotency-Key was first used with a different request"


class InsufficientBalanceError(DomainError):
    """The wallet holds less than the amount due."""

    code = "INSUFFICIENT_BALANCE"


class HoldExpiredError(DomainError):
    """The hold being paid or released has lapsed, was released, or is already paid."""

    code = "HOLD_EXPIRED"


class DateExistsError(DomainError):
    """The concert already plays on that date."""

    code = "DATE_EXISTS"


class SaleNotOpenError(DomainError):
    """Joining before the pre-queue or the sale opens."""

    code = "SALE_NOT_OPEN"

    def __init__(
        self,
        detail: str,
        *,
        opens_at: dt.datetime | None,
        prequeue_opens_at: dt.datetime | None,
    ) -> None:
        super().__init__(detail)
        self.opens_at = opens_at
        self.prequeue_opens_at = prequeue_opens_at


class SaleClosedError(DomainError):
    """Joining a sale that is sold out or closed."""

    code = "SALE_CLOSED"

    def __init__(self, detail: str, *, phase: str) -> None:
        super().__init__(detail)
        self.phase = phase


class ChallengeFailedError(DomainError):
    """A join that needs a solved join challenge came without a good one: missing,
    malformed, wrong, expired, for another concert or already used (docs/contract.md §9)."""

    code = "CHALLENGE_FAILED"
    default_detail = (
        "joining this concert needs a solved join challenge (GET /api/v1/queue/challenge), "
        "sent once as proof"
    )


class ServiceUnavailableError(DomainError):
    """A storage or queue backend cannot be reached. Raised by adapters."""

    code = "SERVICE_UNAVAILABLE"
