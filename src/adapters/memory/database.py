"""The in-memory database: the state every memory repository shares.

Transactions are serialisable: a unit of work holds the database's lock from start to
end, so no two interleave. Writes replace stored objects (never mutate them in place)
and journal how to undo themselves; leaving a unit of work without committing plays the
journal back, which is what makes a payment all or nothing here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Hashable, MutableMapping
from typing import Any, TypeVar
from uuid import UUID

from concert_core.domain import (
    Concert,
    ConcertId,
    LedgerEntry,
    Money,
    Payment,
    PaymentId,
    Reservation,
    ReservationId,
    Seat,
    SeatKey,
    TokenId,
    UserId,
    Wallet,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_MISSING: Any = object()


class MemoryDatabase:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.concerts: dict[ConcertId, Concert] = {}
        self.dates: dict[ConcertId, dict[dt.date, None]] = {}
        self.seats: dict[SeatKey, Seat] = {}
        self.reservations: dict[ReservationId, Reservation] = {}
        self.reservations_by_user: dict[UserId, list[ReservationId]] = {}
        self.held: dict[ReservationId, None] = {}
        """Reservations stored as HELD (lapsed or not): what the sweeper looks at."""
        self.wallets: dict[UserId, Wallet] = {}
        self.ledger: dict[UserId, list[LedgerEntry]] = {}
        self.ledger_ids: dict[UUID, None] = {}
        self.payments: dict[PaymentId, Payment] = {}
        self.payments_by_user: dict[UserId, list[PaymentId]] = {}
        self.payments_by_token: dict[TokenId, PaymentId] = {}
        self.revenue: dict[ConcertId, Money] = {}
        self.counters: dict[str, int] = {}
        self._journal: list[Callable[[], None]] | None = None

    # -- transactions -------------------------------------------------------------

    def begin(self) -> None:
        self._journal = []

    def commit(self) -> None:
        self._require_transaction().clear()

    def rollback(self) -> None:
        journal = self._require_transaction()
        while journal:
            journal.pop()()

    def end(self) -> None:
        self._journal = None

    def _require_transaction(self) -> list[Callable[[], None]]:
        if self._journal is None:
            raise RuntimeError("memory repositories are used inside a unit of work")
        return self._journal

    # -- journalled writes ----------------------------------------------------------

    def put(self, table: MutableMapping[K, V], key: K, value: V) -> None:
        journal = self._require_transaction()
        old = table.get(key, _MISSING)

        def undo() -> None:
            if old is _MISSING:
                del table[key]
            else:
                table[key] = old

        table[key] = value
        journal.append(undo)

    def delete(self, table: MutableMapping[K, V], key: K) -> None:
        journal = self._require_transaction()
        old = table.pop(key)
        journal.append(lambda: table.__setitem__(key, old))

    def append(self, table: MutableMapping[K, list[V]], key: K, item: V) -> None:
        journal = self._require_transaction()
        items = table.setdefault(key, [])
        items.append(item)

        def undo() -> None:
            items.pop()

        journal.append(undo)

    def next_id(self, counter: str) -> int:
        """Draw the next id. Like a database sequence, it is not given back on rollback."""
        self._require_transaction()
        self.counters[counter] = self.counters.get(counter, 0) + 1
        return self.counters[counter]

    def read(self) -> None:
        """Assert a transaction is open (reads are transactional too)."""
        self._require_transaction()
