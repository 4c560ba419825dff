from __future__ import annotations

import pytest

from adapters.clock import ManualClock
from adapters.memory import in_memory_service
from concert_core import ConcertService, Policy
from concert_core.domain import Concert
from support import TEST_SECRET, schedule


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def policy() -> Policy:
    return Policy()


@pytest.fixture
def service(policy: Policy, clock: ManualClock) -> ConcertService:
    return in_memory_service(policy, clock, secret=TEST_SECRET)


@pytest.fixture
async def concert(service: ConcertService) -> Concert:
    return await schedule(service)
