"""One address floods a real ``concert serve`` with made-up fans, with each fair-entry
control on in turn (docs/contract.md §9, docs/security.md): how many reach the line.

Each flood runs for a few seconds from 32 connections, every join with a new random
user id. The table it prints (``pytest -s``) is the one docs/security.md quotes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from identity_support import SECRET
from integration.conftest import serving
from support import solve_challenge

FLOOD_SECONDS = 3.0
CONNECTIONS = 32
ADMIN_KEY = "flood-test-operator-key-" + "k" * 24
CONCERT_ID = 1


@contextmanager
def server(environment: dict[str, str], **settings: str) -> Iterator[str]:
    env = {**environment, "CONCERT_ADMIN_KEY": ADMIN_KEY}
    env.update({f"CONCERT_{name.upper()}": value for name, value in settings.items()})
    with serving(env) as (base, _):
        yield base


Join = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


async def flood(base: str, join: Join, workers: int = CONNECTIONS) -> dict[int, int]:
    """``workers`` loops join as fast as replies come for FLOOD_SECONDS: replies by status."""
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + FLOOD_SECONDS
    limits = httpx.Limits(max_connections=workers)
    async with httpx.AsyncClient(base_url=f"{base}/api/v1", timeout=10, limits=limits) as client:

        async def worker() -> None:
            while time.monotonic() < deadline:
                reply = await join(client)
                statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1

        await asyncio.gather(*(worker() for _ in range(workers)))
    return statuses


def plain_join(client: httpx.AsyncClient) -> Awaitable[httpx.Response]:
    return client.post(
        "/queue/tokens", json={"user_id": str(uuid.uuid4()), "concert_id": CONCERT_ID}
    )


async def solving_join(client: httpx.AsyncClient) -> httpx.Response:
    """A script that does the work: fetch a challenge, solve it (off the loop, as a
    worker would), join with the proof."""
    challenge = (await client.get(f"/queue/challenge?concert_id={CONCERT_ID}")).json()
    proof = await asyncio.to_thread(solve_challenge, challenge)
    body = {"user_id": str(uuid.uuid4()), "concert_id": CONCERT_ID, "proof": proof}
    return await client.post("/queue/tokens", json=body)


def in_line(base: str) -> int:
    """Fans in the concert's line (waiting or let in), as the operator's view counts."""
    view = httpx.get(
        f"{base}/api/v1/admin/concerts/{CONCERT_ID}",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=5,
    ).json()
    queue: dict[str, Any] = view["queue"]
    return int(queue["waiting"]) + int(queue["active"])


def set_challenge(base: str, on: bool) -> None:
    reply = httpx.patch(
        f"{base}/api/v1/admin/concerts/{CONCERT_ID}/sale",
        json={"join_challenge": on},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=5,
    )
    assert reply.status_code == 200, reply.text


def run(base: str, join: Join, workers: int = CONNECTIONS) -> tuple[dict[int, int], int]:
    before = in_line(base)
    statuses = asyncio.run(flood(base, join, workers))
    time.sleep(0.3)  # a change reaches the operator's view at once; margin for the loop
    return statuses, in_line(base) - before


def test_how_many_made_up_fans_one_address_gets_into_the_line(
    environment: dict[str, str],
) -> None:
    rows: list[tuple[str, dict[int, int], int]] = []
    interval = environment["CONCERT_ADMISSION_INTERVAL_SECONDS"]
    # A change to a sale reaches every process within one admission interval.
    settle = float(interval) * 2 + 0.1

    with server(environment, rate_limit_joins_per_minute="0") as base:
        statuses, got_in = run(base, plain_join)
        rows.append(("no control", statuses, got_in))
        assert got_in == statuses.get(201, 0) > 60  # more than a minute's limit, in seconds

        set_challenge(base, True)
        time.sleep(settle)
        statuses, got_in = run(base, plain_join)
        rows.append(("join challenge, no proofs", statuses, got_in))
        assert got_in == 0 and set(statuses) == {403}, statuses

        statuses, got_in = run(base, solving_join, workers=2)
        rows.append(("join challenge, solving (2 threads)", statuses, got_in))
        assert got_in == statuses.get(201, 0) > 0
        assert set(statuses) == {201}, statuses  # one proof, one join, each good once

    with server(environment, rate_limit_joins_per_minute="60") as base:  # the default
        set_challenge(base, False)
        time.sleep(settle)
        statuses, got_in = run(base, plain_join)
        rows.append(("join limit (default 60/min)", statuses, got_in))
        assert got_in == statuses.get(201, 0) == 60, statuses
        assert set(statuses) == {201, 429}, statuses

        set_challenge(base, True)
        time.sleep(settle)
        statuses, got_in = run(base, solving_join, workers=2)
        rows.append(("join limit + challenge, solving (the minute's 60 used)", statuses, got_in))
        assert got_in == 0 and set(statuses) == {429}, statuses  # the minute's 60 are used

    with server(environment, rate_limit_joins_per_minute="0", identity_key=SECRET) as base:
        statuses, got_in = run(base, plain_join)
        rows.append(("verified identity, no identity tokens", statuses, got_in))
        assert got_in == 0 and set(statuses) == {401}, statuses

    print(f"\n| control | replies in {FLOOD_SECONDS:.0f} s | made-up fans in line | per minute |")
    print("| --- | --- | --- | --- |")
    for name, statuses, got_in in rows:
        replies = ", ".join(f"{n} × {status}" for status, n in sorted(statuses.items()))
        per_minute = got_in if "limit" in name else round(got_in * 60 / FLOOD_SECONDS)
        print(f"| {name} | {replies} | {got_in} | {per_minute} |")
