"""A unit of work over the in-memory database: one serialisable transaction, rolled
back unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from adapters.memory.database import MemoryDatabase
from adapters.memory.money import MemoryPaymentRepository, MemoryWalletRepository
from adapters.memory.repositories import (
    MemoryCatalogueRepository,
    MemoryReservationRepository,
    MemorySeatRepository,
)


class MemoryUnitOfWork:
    """A serialisable transaction over a ``MemoryDatabase``.

    Holds the database's lock for its whole life, so units of work never interleave;
    do not open a second one inside the first from the same task.
    """

    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db
        self.catalogue = MemoryCatalogueRepository(db)
        self.seats = MemorySeatRepository(db)
        self.reservations = MemoryReservationRepository(db)
        self.wallets = MemoryWalletRepository(db)
        self.payments = MemoryPaymentRepository(db)

    async def __aenter__(self) -> Self:
        await self._db.lock.acquire()
        self._db.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._db.rollback()
        finally:
            self._db.end()
            self._db.lock.release()

    async def commit(self) -> None:
        self._db.commit()


class MemoryUnitOfWorkFactory:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    def __call__(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.db)
