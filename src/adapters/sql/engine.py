"""Engines and what storage errors mean to the domain.

SQLite runs in WAL mode with a busy timeout, and every transaction begins
``IMMEDIATE``: writers queue for the one write lock at the start instead of failing
when a read upgrades to a write. PostgreSQL runs under READ COMMITTED; the
repositories take row and advisory locks where a decision must not interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Iterator
from typing import Any, Literal

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import await_only

from adapters.sql.fair_pool import FairAsyncQueuePool
from concert_core.domain import ServiceUnavailableError

_log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_SECONDS = 3
"""How long a SQLite transaction waits for the write lock another process holds (a
second worker, a CLI command) before the request gets 503 (docs/contract.md §9). The
drivers' default, 30 s, let one stuck holder stall every fan for half a minute."""
SQLITE_POOL_SIZE = 1
"""Connections each process opens to a SQLite file. Every transaction begins
IMMEDIATE, taking the file's one write lock, so a second connection of the same
process could only wait in SQLite's busy handler, which polls with sleeps of up to
100 ms and serves no one in order: under a burst, nothing kept one transaction from
being overtaken until its busy timeout ran out. One connection makes the process's
transactions queue in the pool instead, first come first served, handed over at once
(decision 17)."""
SQLITE_POOL_TIMEOUT_SECONDS = 5
"""How long a request waits for the process's SQLite connection before it gets 503."""


POOL_TIMEOUT_SECONDS = 10
"""How long a request waits for a free PostgreSQL connection before it gets 503."""
CONNECT_TIMEOUT_SECONDS = 5
"""How long opening a PostgreSQL connection may take."""
LOCK_TIMEOUT_SECONDS = 5.0
"""How long a statement waits for a row or advisory lock (SQLSTATE 55P03, then 503)."""
STATEMENT_TIMEOUT_SECONDS = 15.0
"""How long one statement may run (SQLSTATE 57014, then 503). The driver gives up five
seconds later still, should the server not answer at all (a partition)."""
IDLE_IN_TRANSACTION_SECONDS = 60.0
"""A session left in an open transaction this long is ended by the server, so a client
that hung mid-transaction cannot hold its locks for ever."""


def create_engine(
    url: str,
    *,
    pool_size: int | None = None,
    ping: Literal["plain", "stock", "off"] = "plain",
    **options: Any,
) -> AsyncEngine:
    """An async engine for ``url`` (``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``).

    On PostgreSQL, ``pool_size`` is the most connections the engine opens (no overflow),
    so instances x workers x pool size is what the server must allow. A SQLite file
    ignores it: one connection a process (``SQLITE_POOL_SIZE``).

    ``ping``: how a pooled PostgreSQL connection is checked as it is handed out:
    ``plain``, one statement (``_ping_at_checkout``); ``stock``, SQLAlchemy's pre-ping
    (the benchmarks' ceilings); ``off``, not at all (a reader that retries instead).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        options.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        if parsed.database not in (None, "", ":memory:"):  # a file: a queue pool
            options.setdefault("pool_size", SQLITE_POOL_SIZE)
            options.setdefault("max_overflow", 0)
            options.setdefault("pool_timeout", SQLITE_POOL_TIMEOUT_SECONDS)
        engine = create_async_engine(parsed, **options)
        _configure_sqlite(engine)
        return engine
    options["pool_pre_ping"] = ping == "stock"
    options.setdefault(
        "connect_args",
        {
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "command_timeout": STATEMENT_TIMEOUT_SECONDS + 5,
            "server_settings": {
                "application_name": "concert",
                "lock_timeout": f"{LOCK_TIMEOUT_SECONDS * 1000:.0f}",
                "statement_timeout": f"{STATEMENT_TIMEOUT_SECONDS * 1000:.0f}",
                "idle_in_transaction_session_timeout": f"{IDLE_IN_TRANSACTION_SECONDS * 1000:.0f}",
            },
        },
    )
    if pool_size is not None:
        options.update(pool_size=pool_size, max_overflow=0, pool_timeout=POOL_TIMEOUT_SECONDS)
    options.setdefault("poolclass", FairAsyncQueuePool)  # waiting checkouts in order
    engine = create_async_engine(parsed, **options)
    if ping == "plain":
        _ping_at_checkout(engine)
    return engine


CHECKOUT_PING = "SELECT 1"
"""Sent in the simple query protocol: no prepared statement, no transaction."""


def _ping_at_checkout(engine: AsyncEngine) -> None:
    """Ping each PostgreSQL connection as the pool hands it out, replacing one the
    server or the network dropped while it sat idle (a restart, a killed backend).

    SQLAlchemy's pre-ping on asyncpg wraps its ping in a transaction of its own
    (``BEGIN``, the ping, ``ROLLBACK``: three round trips on every checkout, for a
    pgbouncer in transaction mode); one plain statement tells the same. Raising
    ``DisconnectionError`` from a checkout listener makes the pool discard the
    connection and hand out another (up to three tries). A connection just opened is
    not pinged, as SQLAlchemy's pre-ping does not ping one: should it fail, its own
    statement's error (a 503) reaches the caller, not the pool's "tries exhausted".

    Nor is one handed back to the pool less than ``PING_AFTER_IDLE_SECONDS`` ago: under
    load that is every checkout (decision 27). Such a connection is only asked whether
    the driver has seen it close (no round trip): a server that restarted or ended the
    backend has closed the socket, and the pool replaces it as it would after a ping."""

    @event.listens_for(engine.sync_engine, "connect")
    def _opened(_dbapi_connection: Any, record: Any) -> None:
        record.info[_JUST_OPENED] = True

    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.pop(_JUST_OPENED, False):
            return
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is not None and time.monotonic() - returned_at < PING_AFTER_IDLE_SECONDS:
            if record.driver_connection.is_closed():
                raise exc.DisconnectionError("a pooled connection was closed by the server")
            return
        try:
            await_only(
                record.driver_connection.execute(CHECKOUT_PING, timeout=CONNECT_TIMEOUT_SECONDS)
            )
        except Exception as error:
            raise exc.DisconnectionError(f"a pooled connection did not answer: {error}") from error


_JUST_OPENED = "concert_just_opened"
_RETURNED_AT = "concert_returned_at"
PING_AFTER_IDLE_SECONDS = 0.5
"""A pooled connection idle this long is pinged before it is handed out; one handed back
more recently is not (one the driver has seen closed is still replaced)."""


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver, so BEGIN IMMEDIATE below is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgres(connection: AsyncConnection) -> bool:
    return connection.dialect.name == "postgresql"


def as_unavailable(error: BaseException) -> ServiceUnavailableError | None:
    """The domain's reading of a storage error that means 'cannot be reached or is too
    busy', or None for any other error.

    Constraint violations are not translated here: each repository maps the ones it
    expects to a domain error, and any other is a bug that must be seen.
    """
    unreachable = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, OSError)
    lost = isinstance(error, exc.DBAPIError) and error.connection_invalidated
    if not (isinstance(error, unreachable) or lost or _is_transient(error)):
        return None
    _log.warning("database unavailable: %s", error)
    return ServiceUnavailableError("the database is unavailable; try again shortly")


TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014"})
"""Serialization failure, deadlock, lock not available, statement timeout: the
transaction was rolled back whole and the request may simply be tried again."""
REFUSING_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
"""The server is shutting down, restarting after a crash, or not accepting connections
yet (``CannotConnectNowError``)."""
REFUSING_SQLSTATE_CLASSES = ("08", "53")
"""Connection exceptions, and insufficient resources: too many clients
(``TooManyConnectionsError``), out of memory, disk full (docs/contract.md §9)."""


def _is_transient(error: BaseException) -> bool:
    """Whether PostgreSQL said it cannot take the request now. The driver's own error
    is read too: asyncpg raises it bare when opening a connection fails (SQLAlchemy
    wraps only the errors of a connection it has), so a full server's refusal reaches
    here as ``asyncpg.TooManyConnectionsError``, not as a ``DBAPIError``."""
    original = error.orig if isinstance(error, exc.DBAPIError) else error
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if not isinstance(code, str):
        return False
    return (
        code in TRANSIENT_SQLSTATES
        or code in REFUSING_SQLSTATES
        or code.startswith(REFUSING_SQLSTATE_CLASSES)
    )


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """Raise ServiceUnavailableError for a storage error that means unreachable."""
    try:
        yield
    except Exception as error:
        if (unavailable := as_unavailable(error)) is not None:
            raise unavailable from error
        raise


PING_TIMEOUT_SECONDS = 2.0


async def ping(engine: AsyncEngine) -> bool:
    """Whether the database answers a trivial query within ``PING_TIMEOUT_SECONDS`` (a
    health probe must see a locked or hung database in time, not wait it out).

    A probe still waiting then is left to finish on its own (a driver blocked in its
    thread cannot be interrupted) while the answer goes back at once.
    """

    async def select_one() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    probe = asyncio.ensure_future(select_one())
    _probes.add(probe)
    probe.add_done_callback(_finished_probe)
    done, _ = await asyncio.wait({probe}, timeout=PING_TIMEOUT_SECONDS)
    if not done:
        _log.warning("database health check timed out after %ss", PING_TIMEOUT_SECONDS)
        return False
    return probe.exception() is None


_probes: set[asyncio.Future[None]] = set()


def _finished_probe(probe: asyncio.Future[None]) -> None:
    _probes.discard(probe)
    if not probe.cancelled() and (error := probe.exception()) is not None:
        _log.warning("database health check failed: %s", error)


async def database_time(engine: AsyncEngine) -> dt.datetime:
    """PostgreSQL's clock now (``clock_timestamp()``): a clock every instance sharing
    the database shares."""
    with storage_errors():
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT clock_timestamp()"))
            instant: dt.datetime = result.scalar_one()
    return instant.astimezone(dt.UTC)
