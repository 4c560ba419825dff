"""The REST API under test: one app per test, driven in the test's own event loop.

``storage`` is the one place the storage is chosen (each family of backends.py); every
test depends on it (through ``api``/``open_api``) and on the ``clock``, nothing else.
``e2e.helpers.running_api`` starts the app. Requests go through
``httpx.ASGITransport`` in the test's loop, so ``asyncio.gather`` really interleaves
them (Litestar's AsyncTestClient runs the app in a portal thread, one request at a
time), and the test can call the service and move the clock in the same loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import pytest

import backends
from adapters.clock import ManualClock
from concert_core import Policy
from concert_core.domain import Concert
from e2e.helpers import POLICY, Api, OpenApi, running_api
from entrypoints.settings import Settings


@pytest.fixture(params=backends.params())
async def storage(request: pytest.FixtureRequest) -> AsyncIterator[Settings]:
    """The storage every e2e test runs against, as the app's settings: each family of
    backends.py on fresh storage (in memory, a migrated SQLite file, the run's
    PostgreSQL database emptied, and that with a Redis key namespace of the test's own)."""
    async with backends.open_settings(request.param, backends.postgres_url_of(request)) as opened:
        yield opened


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def policy() -> Policy:
    """Small, explicit rules: limits and lapses are reached in a few steps."""
    return POLICY


@pytest.fixture
def open_api(storage: Settings, clock: ManualClock) -> OpenApi:
    """``async with open_api(policy) as api``: an app on ``storage`` and ``clock``;
    keyword arguments change its settings (``admin_key="..."``)."""
    return partial(running_api, storage, clock)


@pytest.fixture
async def api(open_api: OpenApi, policy: Policy) -> AsyncIterator[Api]:
    async with open_api(policy) as opened:
        yield opened


@pytest.fixture
async def concert(api: Api) -> Concert:
    return await api.schedule()
