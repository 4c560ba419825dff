"""A fan's moves over HTTP, and checks on problem replies."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from attrs import evolve
from dependency_injector import providers
from litestar import Litestar

from adapters.clock import ManualClock
from concert_core import ConcertService, Policy
from concert_core.domain import Concert, ConcertId
from entrypoints.container import Container, Storage
from entrypoints.http import create_app
from entrypoints.http.errors import PROBLEMS
from entrypoints.settings import Settings
from support import DATES, schedule

API = "/api/v1"
DAY = DATES[0].isoformat()
POLICY = Policy(
    active_capacity=2,
    active_ttl=dt.timedelta(seconds=300),
    hold_ttl=dt.timedelta(seconds=60),
    idle_timeout=dt.timedelta(seconds=120),
    max_holds_per_user=2,
    idempotency_lease=dt.timedelta(seconds=10),
)
"""The e2e tests' rules (the ``policy`` fixture): small and explicit, so that limits
and lapses are reached in a few steps."""


@dataclass(frozen=True)
class Fan:
    user_id: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Api:
    client: httpx.AsyncClient
    app: Litestar
    clock: ManualClock
    settings: Settings

    @property
    def service(self) -> ConcertService:
        service: ConcertService = self.app.state.service
        return service

    @property
    def storage(self) -> Storage:
        storage: Storage = self.app.state.storage
        return storage

    async def schedule(self, dates: tuple[dt.date, ...] = DATES) -> Concert:
        return await schedule(self.service, dates)

    @property
    def admin_auth(self) -> dict[str, str]:
        """The operator key's header."""
        return {"Authorization": f"Bearer {self.storage.admin_key}"}

    async def admin(
        self, method: str, path: str, body: Any = None, *, headers: dict[str, Any] | None = None
    ) -> httpx.Response:
        """A request to ``/api/v1/admin<path>`` with the operator key (or ``headers``)."""
        return await self.client.request(
            method,
            f"{API}/admin{path}",
            json=body,
            headers=self.admin_auth if headers is None else headers,
        )

    async def add_concert(self, **fields: Any) -> dict[str, Any]:
        """A concert added over the admin API (two dates, base price 100,000 unless
        ``fields`` say otherwise): its concert view."""
        body = {
            "title": "Winter Lights",
            "venue": f"Olympic Hall {uuid.uuid4().hex[:8]}",
            "dates": [d.isoformat() for d in DATES],
            "price": 100_000,
        } | fields
        if "prices" in fields:
            del body["price"]
        reply = await self.admin("POST", "/concerts", body)
        assert reply.status_code == 201, reply.text
        view: dict[str, Any] = reply.json()
        return view

    async def change_sale(self, concert_id: int, **changes: Any) -> dict[str, Any]:
        reply = await self.admin("PATCH", f"/concerts/{concert_id}/sale", changes)
        assert reply.status_code == 200, reply.text
        view: dict[str, Any] = reply.json()
        return view

    async def enter(self, concert_id: ConcertId, user_id: str | None = None) -> httpx.Response:
        body = {"user_id": user_id or str(uuid.uuid4()), "concert_id": concert_id}
        return await self.client.post(f"{API}/queue/tokens", json=body)

    async def waiting_fan(self, concert_id: ConcertId, user_id: str | None = None) -> Fan:
        reply = await self.enter(concert_id, user_id)
        assert reply.status_code in (200, 201), reply.text
        return Fan(reply.json()["user_id"], reply.json()["token"])

    async def active_fan(self, concert_id: ConcertId, user_id: str | None = None) -> Fan:
        """A fan let in: a token issued over HTTP, then an admission pass."""
        fan = await self.waiting_fan(concert_id, user_id)
        await self.service.admit_waiting(concert_id)
        status = await self.status(fan)
        assert status.json()["status"] == "ACTIVE", status.text
        return fan

    async def status(self, fan: Fan) -> httpx.Response:
        return await self.client.get(f"{API}/queue/status", headers=fan.auth)

    async def hold(
        self, fan: Fan, concert_id: ConcertId, seat_no: int, date: str = DAY
    ) -> httpx.Response:
        body = {"concert_id": concert_id, "date": date, "seat_no": seat_no}
        return await self.client.post(f"{API}/reservations", json=body, headers=fan.auth)

    async def held(self, fan: Fan, concert_id: ConcertId, seat_no: int, date: str = DAY) -> str:
        reply = await self.hold(fan, concert_id, seat_no, date)
        assert reply.status_code == 201, reply.text
        reservation_id: str = reply.json()["reservation_id"]
        return reservation_id

    async def charge(self, user_id: str, amount: Any, key: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key is not None else {}
        return await self.client.post(
            f"{API}/users/{user_id}/balance/charge", json={"amount": amount}, headers=headers
        )

    async def pay(
        self, fan: Fan, reservation_ids: list[str], key: str | None = None
    ) -> httpx.Response:
        headers = fan.auth | ({"Idempotency-Key": key} if key is not None else {})
        return await self.client.post(
            f"{API}/payments", json={"reservation_ids": reservation_ids}, headers=headers
        )

    async def balance(self, user_id: str) -> int:
        reply = await self.client.get(f"{API}/users/{user_id}/balance")
        assert reply.status_code == 200, reply.text
        balance: int = reply.json()["balance"]
        return balance

    async def seats(
        self, fan: Fan, concert_id: ConcertId, date: str = DAY, *, available: bool = False
    ) -> dict[int, str]:
        query = "?available=true" if available else ""
        reply = await self.client.get(
            f"{API}/concerts/{concert_id}/dates/{date}/seats{query}", headers=fan.auth
        )
        assert reply.status_code == 200, reply.text
        return {s["seat_no"]: s["status"] for s in reply.json()["seats"]}


@asynccontextmanager
async def running(app: Litestar) -> AsyncIterator[None]:
    """The app's lifespan, entered and left in one task of its own (as a server does):
    pytest-asyncio may set a fixture up and tear it down in different tasks."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def serve() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(serve())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # the start-up failed: raise its error
    try:
        yield
    finally:
        stop.set()
        await task


@asynccontextmanager
async def running_api(
    storage: Settings, clock: ManualClock, policy: Policy, **changes: Any
) -> AsyncIterator[Api]:
    """The app on ``storage``, its rules ``policy`` and its clock ``clock``, started
    and driven in the test's own loop through ``httpx.ASGITransport``."""
    changes.setdefault("rate_limit_joins_per_minute", 0)  # tests of the limits set theirs
    settings = evolve(storage, policy=policy, **changes)
    container = Container(settings=settings)
    container.clock.override(providers.Object(clock))
    app = create_app(settings, container=container)
    async with running(app):
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield Api(client=client, app=app, clock=clock, settings=settings)


def assert_problem(reply: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The reply is an RFC 9457 problem with this status (and code)."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json"), reply.headers
    body: dict[str, Any] = reply.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail", "code"} <= body.keys(), body
    assert body["code"] in PROBLEMS, body
    if code is not None:
        assert body["code"] == code, body
    return body


class OpenApi(Protocol):
    """``async with open_api(policy) as api``: the ``open_api`` fixture; keyword
    arguments change the app's settings (``admin_key="..."``)."""

    def __call__(self, policy: Policy, **settings: Any) -> AbstractAsyncContextManager[Api]: ...
