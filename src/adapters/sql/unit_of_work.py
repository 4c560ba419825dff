"""A unit of work is one database transaction on one pooled connection."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql.catalogue import SqlCatalogueRepository
from adapters.sql.engine import as_unavailable, storage_errors
from adapters.sql.payments import SqlPaymentRepository
from adapters.sql.reservations import SqlReservationRepository
from adapters.sql.seats import SqlSeatRepository
from adapters.sql.wallets import SqlWalletRepository

_log = logging.getLogger(__name__)


class SqlUnitOfWork:
    """Repositories sharing one transaction; leaving without ``commit()`` rolls back.

    A database that cannot be reached (or stays locked past the busy timeout) is
    reported as ServiceUnavailableError, and nothing is committed.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        with storage_errors():
            connection = await self._engine.connect()
            try:
                await connection.begin()
            except BaseException:
                await connection.close()
                raise
        self._connection = connection
        self.catalogue = SqlCatalogueRepository(connection)
        self.seats = SqlSeatRepository(connection)
        self.reservations = SqlReservationRepository(connection)
        self.wallets = SqlWalletRepository(connection)
        self.payments = SqlPaymentRepository(connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._connection is not None
        connection, self._connection = self._connection, None
        try:
            if connection.in_transaction():
                await connection.rollback()
        except Exception as error:
            if exc is None:
                raise as_unavailable(error) or error from error
            _log.warning("rollback after %r failed: %s", exc, error)
        finally:
            await connection.close()
        if exc is not None and (unavailable := as_unavailable(exc)) is not None:
            raise unavailable from exc

    async def commit(self) -> None:
        assert self._connection is not None
        with storage_errors():
            await self._connection.commit()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)
