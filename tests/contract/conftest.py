"""The adapters every contract suite runs against: each storage family of backends.py.

``backend`` is parametrised by family; a new family joins every suite by joining
``backends.FAMILIES``, and the tests themselves do not change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

import backends
from backends import Backend
from concert_core.policy import Policy


@pytest.fixture
def policy() -> Policy:
    """Small, explicit rules, so that limits and lapses are reached in a few steps."""
    return Policy(
        active_capacity=3,
        admission_interval=dt.timedelta(seconds=1),
        active_ttl=dt.timedelta(seconds=120),
        hold_ttl=dt.timedelta(seconds=30),
        idle_timeout=dt.timedelta(seconds=60),
        max_holds_per_user=2,
        # docs/contract.md §3: a key is kept at least 24 hours.
        idempotency_retention=dt.timedelta(hours=24),
        idempotency_lease=dt.timedelta(seconds=10),
        admission_rate_window=dt.timedelta(seconds=60),
    )


@pytest.fixture(params=backends.params())
async def backend(request: pytest.FixtureRequest, policy: Policy) -> AsyncIterator[Backend]:
    postgres_url = backends.postgres_url_of(request)
    async with backends.open_backend(request.param, policy, postgres_url) as opened:
        yield opened
