"""SQLAlchemy 2 async adapters: every repository, the unit of work, the queue store and
the idempotency store, on SQLite (embedded) or PostgreSQL (scaled)."""

from __future__ import annotations

from adapters.sql.box_office import SqlBoxOffice
from adapters.sql.catalogue import SqlCatalogueRepository
from adapters.sql.engine import create_engine, database_time, ping
from adapters.sql.idempotency import SqlIdempotencyStore
from adapters.sql.migrate import current_revision, head_revision, upgrade
from adapters.sql.payments import SqlPaymentRepository
from adapters.sql.queue_store import SqlQueueStore
from adapters.sql.rate_limiter import SqlRateLimiter
from adapters.sql.reservations import SqlReservationRepository
from adapters.sql.seats import SqlSeatRepository
from adapters.sql.secret_store import stored_secret
from adapters.sql.spent_proofs import SqlSpentProofs
from adapters.sql.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory
from adapters.sql.wallets import SqlWalletRepository

__all__ = [
    "SqlBoxOffice",
    "SqlCatalogueRepository",
    "SqlIdempotencyStore",
    "SqlPaymentRepository",
    "SqlQueueStore",
    "SqlRateLimiter",
    "SqlReservationRepository",
    "SqlSeatRepository",
    "SqlSpentProofs",
    "SqlUnitOfWork",
    "SqlUnitOfWorkFactory",
    "SqlWalletRepository",
    "create_engine",
    "current_revision",
    "database_time",
    "head_revision",
    "ping",
    "stored_secret",
    "upgrade",
]
