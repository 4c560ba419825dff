"""Helpers shared by the test suites."""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import datetime as dt
import hashlib
import inspect
import json
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any, Self

from attrs import frozen
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory import (
    MemoryDatabase,
    MemoryIdempotencyStore,
    MemoryQueueStore,
    MemoryUnitOfWorkFactory,
)
from adapters.tokens import JwtTokenCodec
from concert_core import ConcertService, Policy
from concert_core.domain import Concert, ConcertId, UserId
from concert_core.ports import (
    Clock,
    IdempotencyStore,
    JoinChallenges,
    QueueStore,
    UnitOfWork,
    UnitOfWorkFactory,
)
from concert_core.use_cases import (
    HoldSeatCommand,
    IssuedToken,
    IssueTokenCommand,
    ListSeatsQuery,
    ReservationView,
    ScheduleConcertCommand,
    tiered_prices,
)

DATES = (dt.date(2026, 12, 24), dt.date(2026, 12, 25))
BASE_PRICE = 100_000
TEST_SECRET = "test-secret-" + "x" * 32
"""The secret the ``service`` fixture signs tokens with."""


def new_user() -> UserId:
    return UserId(uuid.uuid4())


async def schedule(
    service: ConcertService, dates: tuple[dt.date, ...] = DATES, title: str = "Winter Lights"
) -> Concert:
    """A new concert (a concert is named by title and venue: each call adds another)."""
    venue = f"Olympic Hall {uuid.uuid4().hex[:8]}"
    return await service.schedule_concert(
        ScheduleConcertCommand(title, venue, dates, tiered_prices(BASE_PRICE))
    )


async def active_token(
    service: ConcertService, concert_id: ConcertId, user: UserId | None = None
) -> IssuedToken:
    """Issue a token and run admission passes until it is ACTIVE."""
    ticket = await service.issue_token(IssueTokenCommand(user or new_user(), concert_id))
    await service.admit_waiting(concert_id)
    status = await service.queue_status(ticket.token)
    assert status.status == "ACTIVE", status
    return ticket


async def hold(
    service: ConcertService,
    token: str,
    concert_id: ConcertId,
    seat_no: int,
    date: dt.date = DATES[0],
) -> ReservationView:
    """Hold a seat and return the reservation."""
    result = await service.hold_seat(HoldSeatCommand(token, concert_id, date, seat_no))
    return result.reservation


async def seat_status(
    service: ConcertService,
    token: str,
    concert_id: ConcertId,
    seat_no: int,
    date: dt.date = DATES[0],
) -> str:
    """A seat's state as an ACTIVE token of the concert sees it."""
    seat_map = await service.list_seats(ListSeatsQuery(token, concert_id, date))
    return next(s.status for s in seat_map.seats if s.seat_no == seat_no)


@frozen
class MemoryKit:
    """A hand-built in-memory service with its storage in reach of the test."""

    service: ConcertService
    db: MemoryDatabase
    uow: MemoryUnitOfWorkFactory
    """Units of work on ``db`` that bypass the gate (for setting up and inspecting)."""
    gate: GatedUnitOfWorkFactory
    """The service's units of work: ``gate.close()`` holds every new one mid-flight."""
    queue: QueueStore
    idempotency: IdempotencyStore
    codec: JwtTokenCodec


def build_memory_service(
    policy: Policy,
    clock: Clock,
    *,
    queue: QueueStore | None = None,
    idempotency: IdempotencyStore | None = None,
    challenges: JoinChallenges | None = None,
) -> MemoryKit:
    """Wire a service as ``in_memory_service`` does, keeping the parts in reach.

    ``queue`` and ``idempotency`` replace the memory stores (test doubles, say);
    ``challenges``: the join challenges (none unless given).
    """
    db = MemoryDatabase()
    factory = MemoryUnitOfWorkFactory(db)
    gate = GatedUnitOfWorkFactory(factory)
    queue = queue or MemoryQueueStore(policy)
    idempotency = idempotency or MemoryIdempotencyStore(policy)
    codec = JwtTokenCodec(TEST_SECRET)
    service = ConcertService.build(
        uow_factory=gate,
        queue=queue,
        idempotency=idempotency,
        codec=codec,
        clock=clock,
        policy=policy,
        challenges=challenges,
    )
    return MemoryKit(service, db, factory, gate, queue, idempotency, codec)


def another_instance(kit: MemoryKit, clock: Clock) -> ConcertService:
    """A second service sharing the kit's storage, bypassing its gate: another process."""
    return ConcertService.build(
        uow_factory=kit.uow,
        queue=kit.queue,
        idempotency=kit.idempotency,
        codec=kit.codec,
        clock=clock,
        policy=kit.service.policy,
    )


class _GatedUnitOfWork:
    def __init__(self, inner: UnitOfWork, gate: GatedUnitOfWorkFactory) -> None:
        self._inner = inner
        self._gate = gate

    async def __aenter__(self) -> UnitOfWork:
        if not self._gate.open.is_set():
            self._gate.blocked.set()
            await self._gate.open.wait()
        return await self._inner.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)


class GatedUnitOfWorkFactory:
    """Units of work that wait while the gate is closed: a request held mid-flight.

    ``blocked`` is set once a unit of work is waiting at the closed gate.
    """

    def __init__(self, inner: UnitOfWorkFactory) -> None:
        self._inner = inner
        self.open = asyncio.Event()
        self.open.set()
        self.blocked = asyncio.Event()

    def close(self) -> None:
        self.open.clear()
        self.blocked.clear()

    def __call__(self) -> _GatedUnitOfWork:
        return _GatedUnitOfWork(self._inner(), self)


def once() -> int:
    return 1


class Yielding:
    """Forwards to ``target``, yielding to the loop around every coroutine call.

    ``jitter`` says how many times to yield each time (once by default); a random one
    shuffles how concurrent callers interleave.
    """

    def __init__(self, target: Any, jitter: Callable[[], int] = once) -> None:
        self._target = target
        self._jitter = jitter

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        async def call(*args: Any, **kwargs: Any) -> Any:
            await self._pause()
            result = await attribute(*args, **kwargs)
            await self._pause()
            return result

        return call

    async def _pause(self) -> None:
        for _ in range(self._jitter()):
            await asyncio.sleep(0)


class YieldingUnitOfWork:
    """A unit of work of ``factory``'s whose repositories yield to the loop around every
    call (see ``Yielding``); they are wrapped once it is entered, as some units of work
    (the SQL one) make their repositories only then."""

    def __init__(self, factory: UnitOfWorkFactory, jitter: Callable[[], int] = once) -> None:
        self._uow = factory()
        self._jitter = jitter

    async def __aenter__(self) -> Self:
        for _ in range(self._jitter()):
            await asyncio.sleep(0)
        await self._uow.__aenter__()
        for name in ("catalogue", "seats", "reservations", "wallets", "payments"):
            setattr(self, name, Yielding(getattr(self._uow, name), self._jitter))
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._uow.__aexit__(et, e, tb)
        await asyncio.sleep(0)

    async def commit(self) -> None:
        await asyncio.sleep(0)
        await self._uow.commit()


_sqlite_template: str | None = None
"""This process's SQLite file migrated to the latest schema, made once and copied for
every test that needs a fresh one (a copy takes a millisecond, a migration a tenth of
a second, and some 600 tests each want one)."""


async def _migrated_template() -> str:
    global _sqlite_template
    if _sqlite_template is None:
        from adapters import sql

        directory = tempfile.mkdtemp(prefix="concert-template-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        path = f"{directory}/template.db"
        engine = sql.create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await sql.upgrade(engine)
        finally:
            await engine.dispose()
        _sqlite_template = path
    return _sqlite_template


async def copy_migrated_sqlite(path: str) -> str:
    """A fresh SQLite file at ``path``, migrated to the latest schema (a copy of this
    process's template, made with SQLite's backup API); its URL."""
    template = await _migrated_template()
    with (
        contextlib.closing(sqlite3.connect(template)) as source,
        contextlib.closing(sqlite3.connect(path)) as target,
    ):
        source.backup(target)
    return f"sqlite+aiosqlite:///{path}"


@contextlib.asynccontextmanager
async def migrated_sqlite() -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh SQLite file migrated to the latest schema; gone afterwards."""
    from adapters import sql

    with tempfile.TemporaryDirectory(prefix="concert-") as directory:
        engine = sql.create_engine(await copy_migrated_sqlite(f"{directory}/test.db"))
        try:
            yield engine
        finally:
            await engine.dispose()


def solve_challenge(challenge: Mapping[str, Any]) -> str:
    """The ``proof`` for a join challenge as ``GET /queue/challenge`` gives it (or a
    ``JoinChallenge``'s fields): the number ``n`` with ``sha256(salt + str(n))`` equal
    to the challenge, found by trying every one from 0, as a client does; base64 of the
    JSON solution (docs/contract.md §9). Raises if no number up to ``maxnumber`` fits."""
    salt = str(challenge["salt"])
    target = str(challenge["challenge"])
    for number in range(int(challenge["maxnumber"]) + 1):
        if hashlib.sha256(f"{salt}{number}".encode()).hexdigest() == target:
            solution = {
                "algorithm": challenge["algorithm"],
                "challenge": target,
                "number": number,
                "salt": salt,
                "signature": challenge["signature"],
            }
            return base64.b64encode(json.dumps(solution).encode()).decode()
    raise ValueError("the challenge has no solution up to its maxnumber")


def http_scope(
    method: str, path: str, headers: list[tuple[bytes, bytes]], **fields: Any
) -> dict[str, Any]:
    """An ASGI HTTP scope as a server hands it to the app (``fields`` override), for the
    tests that drive the app's ASGI callable without a client."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    } | fields
