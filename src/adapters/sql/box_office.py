"""The box office on PostgreSQL: the hold, the payment and the end of a turn's holds
each as one autocommit statement (``adapters.sql.postgres``), on the engine's pool.

In a unit of work each of them costs four round trips more than its statement: the
unit's ``BEGIN`` and ``COMMIT``, and a checkout. One statement is atomic on its own
(it commits whole or not at all), so nothing is lost by leaving the transaction out;
every refusal of these statements writes nothing. A payment ``PAY`` refused is taken
again a step at a time inside a transaction, which says which rule refused (or pays,
should what refused have changed meanwhile)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import storage_errors
from adapters.sql.payments import SqlPaymentRepository
from adapters.sql.reservations import SqlReservationRepository
from adapters.sql.seats import SqlSeatRepository
from concert_core.domain import TokenId
from concert_core.ports import HoldOutcome, HoldRequest, PaymentOutcome, PaymentRequest


class SqlBoxOffice:
    """``BoxOffice`` on a PostgreSQL engine (SQLite has no such statements: its holds
    and payments stay units of work)."""

    def __init__(self, engine: AsyncEngine) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("the SQL box office needs PostgreSQL")
        self._engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def hold(self, request: HoldRequest) -> HoldOutcome:
        with storage_errors():
            async with self._autocommit.connect() as connection:
                return await SqlSeatRepository(connection).hold(request)

    async def pay(self, request: PaymentRequest) -> PaymentOutcome:
        with storage_errors():
            async with self._autocommit.connect() as connection:
                outcome = await SqlPaymentRepository(connection).pay_at_once(request)
            if outcome is not None:
                return outcome
            async with self._engine.begin() as connection:
                return await SqlPaymentRepository(connection).pay(request)

    async def release_holds_of_token(self, token_id: TokenId, now: dt.datetime) -> int:
        with storage_errors():
            async with self._autocommit.connect() as connection:
                return await SqlReservationRepository(connection).release_holds_of_token(
                    token_id, now
                )
