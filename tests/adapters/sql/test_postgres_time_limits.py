"""A request never waits on PostgreSQL for longer than its time limits: a row locked
elsewhere (a stuck admin session, a hung client) means 503, not a hang."""

from __future__ import annotations

import sys
import time

import pytest
from sqlalchemy import text

import backends
from adapters import sql
from adapters.clock import ManualClock
from concert_core.domain import Concert
from e2e.helpers import POLICY, running_api

pytestmark = backends.marks("postgres")

ENGINES = sys.modules[sql.create_engine.__module__]
"""The module that makes engines, wherever ``adapters.sql`` keeps it: its time limits
are read as an engine is made."""


async def test_a_hold_on_a_seat_locked_elsewhere_gets_503_within_the_lock_timeout(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ENGINES, "LOCK_TIMEOUT_SECONDS", 0.5)
    async with (
        backends.open_settings("postgres", lambda: postgres_url) as storage,
        running_api(storage, ManualClock(), POLICY) as api,
    ):
        concert: Concert = await api.schedule()
        fan = await api.active_fan(concert.concert_id)
        side = sql.create_engine(storage.database_url)
        try:
            async with side.begin() as connection:
                await connection.execute(text("SELECT 1 FROM seats WHERE seat_no = 3 FOR UPDATE"))
                started = time.monotonic()
                reply = await api.hold(fan, concert.concert_id, 3)
                waited = time.monotonic() - started
            assert reply.status_code == 503, reply.text
            assert reply.json()["code"] == "SERVICE_UNAVAILABLE"
            assert 0.4 < waited < 5, waited
            assert (await api.hold(fan, concert.concert_id, 3)).status_code == 201  # unlocked
        finally:
            await side.dispose()
