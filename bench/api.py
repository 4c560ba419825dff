"""Calls to the service's API that set a run's state up before wrk measures it: tokens
issued, statuses read, wallets charged, many at a time."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable
from typing import TypeVar

import aiohttp

T = TypeVar("T")

LIMIT = 200
"""Calls in flight at once (and connections open)."""


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=LIMIT))


async def gather_limited(work: list[Awaitable[T]], limit: int = LIMIT) -> list[T]:
    """Await every call, at most ``limit`` at a time; their results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return await asyncio.gather(*(one(w) for w in work))


async def issue_tokens(
    session: aiohttp.ClientSession, api: str, concert: int, users: list[str]
) -> list[str]:
    async def issue(user: str) -> str:
        async with session.post(
            f"{api}/queue/tokens", json={"user_id": user, "concert_id": concert}
        ) as reply:
            body = await reply.json()
            if reply.status not in (200, 201):
                raise RuntimeError(f"issue: {reply.status} {body}")
            return str(body["token"])

    return await gather_limited([issue(u) for u in users])


async def statuses(session: aiohttp.ClientSession, api: str, tokens: list[str]) -> list[str]:
    async def one(token: str) -> str:
        async with session.get(
            f"{api}/queue/status", headers={"Authorization": f"Bearer {token}"}
        ) as reply:
            return str((await reply.json())["status"])

    return await gather_limited([one(t) for t in tokens])


async def charge_wallets(
    session: aiohttp.ClientSession, api: str, users: list[str], amount: int
) -> None:
    async def charge(user: str) -> None:
        async with session.post(
            f"{api}/users/{user}/balance/charge", json={"amount": amount}
        ) as reply:
            if reply.status != 200:
                raise RuntimeError(f"charge: {reply.status} {await reply.text()}")

    await gather_limited([charge(user) for user in users])


async def add_concert(
    session: aiohttp.ClientSession, api: str, admin_key: str, title: str, sale: dict[str, object]
) -> int:
    """A concert of one date 50 seats, on sale at once with ``sale``'s settings: its id."""
    date = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    body = {"title": title, "venue": "Bench Hall", "dates": [date], "price": 100_000, "sale": sale}
    async with session.post(
        f"{api}/admin/concerts", json=body, headers={"Authorization": f"Bearer {admin_key}"}
    ) as reply:
        if reply.status != 201:
            raise RuntimeError(f"add concert: {reply.status} {await reply.text()}")
        return int((await reply.json())["concert_id"])


async def join_challenges(
    session: aiohttp.ClientSession, api: str, concert: int, count: int
) -> list[dict[str, object]]:
    """``count`` join challenges for ``concert``, as GET /queue/challenge gives them."""

    async def one() -> dict[str, object]:
        async with session.get(f"{api}/queue/challenge", params={"concert_id": concert}) as reply:
            if reply.status != 200:
                raise RuntimeError(f"challenge: {reply.status} {await reply.text()}")
            return dict(await reply.json())

    return await gather_limited([one() for _ in range(count)])
