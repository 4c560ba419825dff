"""Ports: what the core needs from the world, as async Protocols over domain types.

Atomicity lives behind these ports. Each mutating method is one atomic storage
operation whose conditions are checked by the storage itself at the moment of the
write (a conditional update, a constraint, a script): a use case never reads, awaits,
and then writes on the assumption that what it read still holds.

Time: every rule is judged by the ``now`` argument (taken from the one ``Clock`` all
instances share), never by storage's own clock; no SQL ``now()``, no Lua ``TIME``.
Expiry of storage keys (TTLs) may only collect garbage, with a margin past the rules.
"""

from concert_core.ports.idempotency import IdempotencyKey, IdempotencyStore, JsonValue
from concert_core.ports.join_challenge import JoinChallenge, JoinChallenges, ProofSpend
from concert_core.ports.storage import (
    BoxOffice,
    CatalogueRepository,
    HoldOutcome,
    HoldRequest,
    PaymentOutcome,
    PaymentRepository,
    PaymentRequest,
    ReservationRepository,
    SeatLine,
    SeatMapReader,
    SeatRepository,
    UnitOfWork,
    UnitOfWorkFactory,
    WalletRepository,
)
from concert_core.ports.time_and_tokens import Clock, TokenCodec
from concert_core.ports.waiting_room import ProofSpendingQueue, QueueStore

__all__ = [
    "BoxOffice",
    "CatalogueRepository",
    "Clock",
    "HoldOutcome",
    "HoldRequest",
    "IdempotencyKey",
    "IdempotencyStore",
    "JoinChallenge",
    "JoinChallenges",
    "JsonValue",
    "PaymentOutcome",
    "PaymentRepository",
    "PaymentRequest",
    "ProofSpend",
    "ProofSpendingQueue",
    "QueueStore",
    "ReservationRepository",
    "SeatLine",
    "SeatMapReader",
    "SeatRepository",
    "TokenCodec",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "WalletRepository",
]
