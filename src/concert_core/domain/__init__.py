"""The domain: aggregates, value objects and the errors their rules raise."""

from concert_core.domain.errors import (
    DomainError,
    HoldExpiredError,
    HoldLimitReachedError,
    IdempotencyInProgressError,
    IdempotencyKeyReusedError,
    InsufficientBalanceError,
    NotFoundError,
    NotOwnerError,
    SeatUnavailableError,
    ServiceUnavailableError,
    TokenInvalidError,
    TokenNotActiveError,
    ValidationError,
)
from concert_core.domain.idempotency import ClaimVerdict, HeldKey, judge_claim
from concert_core.domain.payment import Payment
from concert_core.domain.queue import (
    IssueOutcome,
    QueuePlace,
    QueueStats,
    QueueToken,
    TokenClaims,
    TokenStatus,
)
from concert_core.domain.reservation import Reservation, ReservationStatus
from concert_core.domain.sale import Phase, SaleSettings, shuffle_key
from concert_core.domain.seating import (
    Concert,
    DateAvailability,
    DateSeats,
    Seat,
    SeatKey,
    SeatStatus,
)
from concert_core.domain.values import (
    ConcertId,
    Money,
    PaymentId,
    ReservationId,
    SeatNo,
    TokenId,
    UserId,
)
from concert_core.domain.wallet import EntryKind, LedgerEntry, Wallet

__all__ = [
    "ClaimVerdict",
    "Concert",
    "ConcertId",
    "DateAvailability",
    "DateSeats",
    "DomainError",
    "EntryKind",
    "HeldKey",
    "HoldExpiredError",
    "HoldLimitReachedError",
    "IdempotencyInProgressError",
    "IdempotencyKeyReusedError",
    "InsufficientBalanceError",
    "IssueOutcome",
    "LedgerEntry",
    "Money",
    "NotFoundError",
    "NotOwnerError",
    "Payment",
    "PaymentId",
    "Phase",
    "QueuePlace",
    "QueueStats",
    "QueueToken",
    "Reservation",
    "ReservationId",
    "ReservationStatus",
    "SaleSettings",
    "Seat",
    "SeatKey",
    "SeatNo",
    "SeatStatus",
    "SeatUnavailableError",
    "ServiceUnavailableError",
    "TokenClaims",
    "TokenId",
    "TokenInvalidError",
    "TokenNotActiveError",
    "TokenStatus",
    "UserId",
    "ValidationError",
    "Wallet",
    "judge_claim",
    "shuffle_key",
]
