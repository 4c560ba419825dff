"""What differs between SQLite and PostgreSQL, said once: the conflict-ignoring insert,
advisory locks (SQLite's one write lock covers them) and the keys they lock on."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from adapters.sql.engine import is_postgres


def insert_ignoring_conflicts(connection: AsyncConnection, table: Table) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the connection's dialect."""
    if is_postgres(connection):
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


async def advisory_lock(connection: AsyncConnection, *keys: int, shared: bool = False) -> None:
    """A PostgreSQL transaction-scoped advisory lock (SQLite's write lock covers it)."""
    if not is_postgres(connection):
        return
    lock = func.pg_advisory_xact_lock_shared if shared else func.pg_advisory_xact_lock
    await connection.execute(select(lock(*keys)))


def uuid_lock_key(value: UUID) -> int:
    """A 32-bit lock key from a UUID (collisions only make two users wait for each other)."""
    return int.from_bytes(value.bytes[:4], "big", signed=True)
