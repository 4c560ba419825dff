"""What a Redis that comes back empty (no persistence, a failover that lost writes)
means to fans: the line is lost, nothing in PostgreSQL is, and no one pays twice."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

import backends
from adapters.clock import ManualClock
from concert_core.domain import Concert
from e2e.helpers import API, POLICY, Api, running_api
from services import forget_namespace

pytestmark = backends.marks("postgres+redis")


@pytest.fixture
async def api(postgres_url: str) -> AsyncIterator[Api]:
    """The app on PostgreSQL, its waiting room and idempotency keys in Redis."""
    async with (
        backends.open_settings("postgres+redis", lambda: postgres_url) as storage,
        running_api(storage, ManualClock(), POLICY) as opened,
    ):
        yield opened


@pytest.fixture
async def concert(api: Api) -> Concert:
    return await api.schedule()


async def wipe(api: Api) -> None:
    assert api.settings.redis_url is not None
    client = aioredis.Redis.from_url(api.settings.redis_url)
    try:
        await forget_namespace(client, api.settings.redis_namespace)
    finally:
        await client.aclose()


async def test_after_redis_loses_its_data_fans_enter_again_and_no_one_pays_twice(
    api: Api, concert: Concert
) -> None:
    fan = await api.active_fan(concert.concert_id)
    reservation_id = await api.held(fan, concert.concert_id, 1)
    charged = await api.charge(fan.user_id, 500_000, key="top-up")
    assert charged.status_code == 200
    paid = await api.pay(fan, [reservation_id], key="pay")
    assert paid.status_code == 201
    waiting = await api.waiting_fan(concert.concert_id)

    await wipe(api)

    # The line is gone: old tokens are unknown, and fans queue anew.
    status = await api.status(waiting)
    assert status.status_code == 401
    assert status.json()["code"] == "TOKEN_INVALID"
    again = await api.enter(concert.concert_id, waiting.user_id)
    assert again.status_code == 201
    assert again.json()["status"] == "WAITING"
    assert again.json()["position"] == 1

    # The keyed charge, retried: its record is gone, but its ledger entry is found by
    # the id derived from the key, so nothing is added.
    retried = await api.charge(fan.user_id, 500_000, key="top-up")
    assert retried.status_code == 200
    assert await api.balance(fan.user_id) == 500_000 - paid.json()["amount"]
    # The sale stands, though the buyer's token went with the line.
    reservation = await api.client.get(f"{API}/reservations/{reservation_id}", headers=fan.auth)
    assert reservation.json()["code"] == "TOKEN_INVALID"
    buyer = await api.active_fan(concert.concert_id, fan.user_id)
    seats = await api.seats(buyer, concert.concert_id)
    assert seats[1] == "SOLD"
    history = await api.client.get(f"{API}/users/{fan.user_id}/payments")
    assert [p["payment_id"] for p in history.json()] == [paid.json()["payment_id"]]
