"""Fixtures every suite may use, and how tests share the machine when run in parallel.

``make test`` runs the tests in two pytest-xdist workers (``-n 2 --dist loadgroup``).
The tests that start real processes and judge them by the clock (``integration/``,
``multi/``, ``browser/``) are marked ``alone``: they all go to one worker, in one
group, and each runs with no other test running at once, as in a serial run; the
other tests run two at a time. Storage is already apart between workers: a PostgreSQL
database per process, a Redis key namespace and an SQLite file per test (services.py,
backends.py). Without xdist nothing here changes how a test runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from adapters.clock import ManualClock
from concert_core import ConcertService, Policy
from concert_core.domain import Concert
from services import postgres_url  # noqa: F401  (a session fixture any suite may use)
from support import MemoryKit, build_memory_service, schedule

ALONE = ("integration", "multi", "browser")
"""The folders whose tests run with no other test at once under xdist."""
_HERE = Path(__file__).parent


def _lock_files(run: str) -> tuple[Path, Path]:
    base = Path(tempfile.gettempdir()) / f"concert-tests-{run}"
    return base.with_suffix(".gate"), base.with_suffix(".lock")


def pytest_configure(config: pytest.Config) -> None:
    # The controller names the run, so that it knows the workers' lock files and
    # removes them at the end (xdist passes the name to every worker).
    if (
        config.pluginmanager.hasplugin("xdist")
        and not hasattr(config, "workerinput")
        and config.getoption("testrunuid", None) is None
    ):
        config.option.testrunuid = uuid.uuid4().hex


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.getoption("testrunuid", None) if not hasattr(config, "workerinput") else None
    if run is not None:
        for path in _lock_files(run):
            path.unlink(missing_ok=True)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tryfirst: xdist reads the group marks in a hook of its own, after this one.
    for item in items:
        if item.path.is_relative_to(_HERE) and item.path.relative_to(_HERE).parts[0] in ALONE:
            item.add_marker(pytest.mark.alone)
            item.add_marker(pytest.mark.xdist_group("alone"))


@contextlib.contextmanager
def _turn(run: str, *, alone: bool) -> Iterator[None]:
    """A test's turn among the workers: a shared lock for a test that may run beside
    others, an exclusive one for an ``alone`` test. The gate keeps it fair: a worker
    waiting for an exclusive turn holds the gate, so no new shared turn starts."""
    gate_path, lock_path = _lock_files(run)
    with gate_path.open("a") as gate, lock_path.open("a") as lock:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:
                fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            if alone:
                fcntl.flock(gate, fcntl.LOCK_UN)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    # Set-up, call and tear-down (module fixtures' included) all within the turn.
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:
        return (yield)
    with _turn(run, alone=item.get_closest_marker("alone") is not None):
        return (yield)


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
