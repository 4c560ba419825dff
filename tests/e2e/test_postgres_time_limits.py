"""A request never waits on PostgreSQL for longer than its time limits: a row locked
elsewhere (a stuck admin session, a hung client) means 503, not a hang."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from adapters import sql
from adapters.sql import engine as sql_engine
from concert_core import Policy
from concert_core.domain import Concert
from e2e.helpers import OpenApi
from entrypoints.settings import Settings

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("storage", ["postgres"], indirect=True)
async def test_a_hold_on_a_seat_locked_elsewhere_gets_503_within_the_lock_timeout(
    storage: Settings, open_api: OpenApi, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_engine, "LOCK_TIMEOUT_SECONDS", 0.5)
    async with open_api(policy) as api:
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
