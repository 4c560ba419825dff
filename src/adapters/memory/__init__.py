"""Complete in-memory adapters for every port: the reference the others are tested
against, and a ready service for a library user or a test."""

from __future__ import annotations

import secrets

from adapters.challenge import DEFAULT_MAX_NUMBER, DEFAULT_TTL, AltchaJoinChallenges
from adapters.clock import ManualClock, SystemClock
from adapters.memory.database import MemoryDatabase
from adapters.memory.idempotency import MemoryIdempotencyStore
from adapters.memory.money import MemoryPaymentRepository, MemoryWalletRepository
from adapters.memory.queue_store import MemoryQueueStore
from adapters.memory.rate_limiter import MemoryRateLimiter
from adapters.memory.repositories import (
    MemoryCatalogueRepository,
    MemoryReservationRepository,
    MemorySeatRepository,
)
from adapters.memory.spent_proofs import MemorySpentProofs
from adapters.memory.unit_of_work import MemoryUnitOfWork, MemoryUnitOfWorkFactory
from adapters.tokens import JwtTokenCodec
from concert_core import ConcertService, Policy
from concert_core.ports import Clock


def in_memory_service(
    policy: Policy | None = None,
    clock: Clock | None = None,
    secret: str | None = None,
) -> ConcertService:
    """A whole service on in-memory storage: one process, nothing to install."""
    policy = policy or Policy()
    db = MemoryDatabase()
    secret = secret or secrets.token_urlsafe(32)
    return ConcertService.build(
        uow_factory=MemoryUnitOfWorkFactory(db),
        queue=MemoryQueueStore(policy),
        idempotency=MemoryIdempotencyStore(policy),
        codec=JwtTokenCodec(secret),
        clock=clock or SystemClock(),
        policy=policy,
        challenges=AltchaJoinChallenges(
            secret, MemorySpentProofs(), max_number=DEFAULT_MAX_NUMBER, ttl=DEFAULT_TTL
        ),
    )


__all__ = [
    "ManualClock",
    "MemoryCatalogueRepository",
    "MemoryDatabase",
    "MemoryIdempotencyStore",
    "MemoryPaymentRepository",
    "MemoryQueueStore",
    "MemoryRateLimiter",
    "MemoryReservationRepository",
    "MemorySeatRepository",
    "MemorySpentProofs",
    "MemoryUnitOfWork",
    "MemoryUnitOfWorkFactory",
    "MemoryWalletRepository",
    "SystemClock",
    "in_memory_service",
]
