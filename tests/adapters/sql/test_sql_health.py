"""The database health probe answers in time even when the database is locked."""

from __future__ import annotations

import sqlite3
import sys
import time

from adapters import sql
from support import migrated_sqlite

PING_TIMEOUT_SECONDS: float = sys.modules[sql.ping.__module__].PING_TIMEOUT_SECONDS
"""How long the probe waits, read where ``adapters.sql`` keeps ``ping``."""


async def test_a_locked_database_is_reported_unhealthy_within_the_probe_timeout() -> None:
    async with migrated_sqlite() as engine:
        assert await sql.ping(engine)
        path = engine.url.database
        assert path is not None
        blocker = sqlite3.connect(path, isolation_level=None)
        try:
            blocker.execute("BEGIN EXCLUSIVE")
            started = time.monotonic()
            assert not await sql.ping(engine)
            assert time.monotonic() - started < PING_TIMEOUT_SECONDS + 2
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert await sql.ping(engine)  # and it recovers by itself
