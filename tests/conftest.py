from __future__ import annotations

import pytest

from adapters.clock import ManualClock
from concert_core import ConcertService, Policy
from concert_core.domain import Concert
from services import postgres_url  # noqa: F401  (a session fixture any suite may use)
from support import MemoryKit, build_memory_service, schedule


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def policy() -> Policy:
    return Policy()


@pytest.fixture
def kit(policy: Policy, clock: ManualClock) -> MemoryKit:
    """An in-memory service with its storage in reach of the test."""
    return build_memory_service(policy, clock)


@pytest.fixture
def service(kit: MemoryKit) -> ConcertService:
    return kit.service


@pytest.fixture
async def concert(service: ConcertService) -> Concert:
    return await schedule(service)
