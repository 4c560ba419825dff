"""The endpoints and their ceilings: fans prepared through the API, then each endpoint
driven by wrk, its own ceiling run just before and just after it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bench import api, log, wrk
from bench.ceilings import CREATE
from bench.servers import (
    ROOT,
    Server,
    concert_executable,
    free_ports,
    sampling,
    serve,
    uvicorn_command,
)
from bench.stores import (
    REDIS_URL,
    asyncpg_dsn,
    execute,
    forget_namespace,
    migrated_database,
    service_env,
)

CEILINGS = {"ping": "/ping", "redis": "/redis", "pg_write": "/pg"}
CEILING_OF = {
    "queue_issue": "redis",
    "queue_status": "redis",
    "seats": "ping",
    "hold": "pg_write",
    "pay": "pg_write",
}
"""Each endpoint's ceiling: the least work that kind of endpoint must do."""
ENDPOINTS = ("queue_issue", "queue_status", "seats", "hold", "pay")
ACTIVE_FANS = 9_000
"""Fans let in on concert 1 (seat lists, holds, payments): one hold each."""
WAITING_FANS = 2_000
"""Fans still waiting on concert 2 (status polls), behind ACTIVE_FANS let in."""
HOLD_DATES = 160
"""Dates seeded: 160 x 50 = 8,000 seats to hold, one per fan."""

HOLD = wrk.POST_JSON + (
    "request = function()\n"
    "  local f = split(next_line())\n"
    '  local body = \'{"concert_id": 1, "date": "\' .. f[2]\n'
    "    .. '\", \"seat_no\": ' .. f[3] .. '}'\n"
    "  return wrk.format(nil, nil, {Authorization = 'Bearer ' .. f[1]}, body)\n"
    "end\n"
)
"""Each line ``token date seat_no``: that fan holds that seat."""
PAY = wrk.POST_JSON + (
    "request = function()\n"
    "  local f = split(next_line())\n"
    "  local body = '{\"reservation_ids\": [\"' .. f[2] .. '\"]}'\n"
    "  return wrk.format(nil, nil, {Authorization = 'Bearer ' .. f[1]}, body)\n"
    "end\n"
)
"""Each line ``token reservation_id``: that fan pays for that hold."""
ISSUE = wrk.POST_JSON + (
    "local function hex(n) local s = '' for _ = 1, n do "
    "s = s .. string.format('%x', math.random(0, 15)) end return s end\n"
    "request = function()\n"
    "  local user = hex(8) .. '-' .. hex(4) .. '-4' .. hex(3) .. '-8' .. hex(3)\n"
    "    .. '-' .. hex(12)\n"
    '  local body = \'{"user_id": "\' .. user .. \'", "concert_id": 3}\'\n'
    "  return wrk.format(nil, nil, nil, body)\n"
    "end\n"
)
"""A fresh random user enters the line of concert 3 with every request."""


# -- the ceilings ----------------------------------------------------------------------


@contextlib.contextmanager
def ceiling_server(database_url: str, logs: Path) -> Iterator[Server]:
    """The ceilings' bare app, served like the service, for the whole run."""
    port = free_ports(1)[0]
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": database_url,
        "BENCH_REDIS_URL": REDIS_URL,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    asyncio.run(execute(database_url, CREATE))
    server = Server(
        uvicorn_command("bench.ceilings:create_app", port), env, port, logs / "ceilings.log"
    )
    try:
        server.wait_until("/ping")
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def bench_stores(logs: Path) -> Iterator[tuple[str, str, Server]]:
    """A Redis namespace, a fresh migrated database and the ceilings' app on it, for
    one run: ``(namespace, database_url, ceiling_app)``, all gone afterwards."""
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        with (
            migrated_database(namespace) as database_url,
            ceiling_server(database_url, logs) as app,
        ):
            yield namespace, database_url, app
    finally:
        asyncio.run(forget_namespace(namespace))


def run_ceiling(server: Server, name: str, seconds: float) -> wrk.Result:
    path = CEILINGS[name]
    script = wrk.script(wrk.post_json("") if name == "pg_write" else "")
    return wrk.run(name, server.base + path, script, seconds=seconds)


def measure_ceilings(server: Server, seconds: float) -> dict[str, wrk.Result]:
    results = {}
    for name in CEILINGS:
        log(f"ceiling {name}")
        run_ceiling(server, name, 2)  # warm-up
        results[name] = run_ceiling(server, name, seconds)
    return results


# -- the endpoints ---------------------------------------------------------------------


def measure_endpoints(
    database_url: str,
    namespace: str,
    seconds: float,
    logs: Path,
    *,
    only: frozenset[str] = frozenset(ENDPOINTS),
    profile: Path | None = None,
    ceiling: Server | None = None,
) -> dict[str, Any]:
    """Each endpoint at a fixed concurrency; with ``ceiling``, its own ceiling is run
    just before and just after it (half as long each), and ``beside`` holds their mean:
    the reference its ratio is taken to, so that drift over the run falls on both."""
    env = service_env(
        database_url,
        namespace,
        active_capacity=str(ACTIVE_FANS),
        max_holds_per_user="1",
        admission_interval_seconds="1",
    )
    subprocess.run(
        [concert_executable(), "seed", "--concerts", "5", "--dates", str(HOLD_DATES)],
        env=env,
        check=True,
        capture_output=True,
    )
    server = serve(env, logs, "service")
    api_base = server.base + "/api/v1"
    results: dict[str, wrk.Result] = {}
    beside: dict[str, wrk.Result] = {}

    def measure(name: str, url: str, lua: str) -> None:
        if name not in only:
            return
        if ceiling is not None:
            before = run_ceiling(ceiling, CEILING_OF[name], seconds / 2)
        if profile is None:
            results[name] = wrk.run(name, url, lua, seconds=seconds)
        else:
            with sampling(server, profile / f"{name}.txt", seconds):
                results[name] = wrk.run(name, url, lua, seconds=seconds)
        if ceiling is not None:
            after = run_ceiling(ceiling, CEILING_OF[name], seconds / 2)
            beside[name] = wrk.combined([before, after])

    try:
        log(f"preparing {ACTIVE_FANS:,} active fans and {WAITING_FANS:,} waiting ones")
        active_users = [str(uuid.uuid4()) for _ in range(ACTIVE_FANS)]
        active, waiting = asyncio.run(_prepare(api_base, active_users))

        log("endpoint: queue status poll (waiting fans)")
        poll = wrk.script(wrk.BEARER_GET, lines=waiting)
        measure("queue_status", f"{api_base}/queue/status", poll)

        log("endpoint: seat list")
        seats = wrk.script(wrk.BEARER_GET, lines=[token for token, _ in active])
        measure("seats", f"{api_base}/concerts/1/dates/2027-03-06/seats", seats)

        log("endpoint: hold (each fan one seat of its own)")
        first = dt.date(2027, 3, 6)
        hold_lines = [
            f"{token} {(first + dt.timedelta(weeks=i // 50)).isoformat()} {i % 50 + 1}"
            for i, (token, _) in enumerate(active[: HOLD_DATES * 50])
        ]
        measure("hold", f"{api_base}/reservations", wrk.script(HOLD, lines=hold_lines))

        log("endpoint: pay (each holder once)")
        pay_lines = asyncio.run(_prepare_payments(api_base, database_url, dict(active)))
        measure("pay", f"{api_base}/payments", wrk.script(PAY, lines=pay_lines))
        # Last: the tokens it issues (tens of thousands) would keep the admission loop
        # busy during the endpoints after it.
        log("endpoint: token issue")
        measure("queue_issue", f"{api_base}/queue/tokens", wrk.script(ISSUE))

        counts = {"holds_available": len(hold_lines), "payments_available": len(pay_lines)}
        return {"results": results, "beside": beside, **counts}
    finally:
        server.stop()


async def _prepare(api_base: str, users: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """``users`` let in on concert 1 (``(token, user)`` each) and the tokens of those
    still waiting on concert 2, once the admission loop has let the first all in."""
    async with api.session() as session:
        tokens = await api.issue_tokens(session, api_base, 1, users)
        others = [str(uuid.uuid4()) for _ in range(ACTIVE_FANS + WAITING_FANS)]
        line = await api.issue_tokens(session, api_base, 2, others)
        for _ in range(60):
            await asyncio.sleep(1)
            states = await api.statuses(session, api_base, tokens)
            if all(s == "ACTIVE" for s in states):
                break
        else:
            raise RuntimeError("the admission loop did not let the fans in")
        waiting_states = await api.statuses(session, api_base, line)
        waiting = [t for t, s in zip(line, waiting_states, strict=True) if s == "WAITING"]
        return list(zip(tokens, users, strict=True)), waiting


async def _prepare_payments(api_base: str, database_url: str, user_of: dict[str, str]) -> list[str]:
    """``token reservation_id`` for every fan holding a seat, wallets topped up."""
    token_of = {user: token for token, user in user_of.items()}
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await connection.fetch(
            "SELECT user_id::text, reservation_id::text FROM reservations WHERE status = 'HELD'"
        )
    finally:
        await connection.close()
    async with api.session() as session:
        await api.charge_wallets(session, api_base, [row[0] for row in rows], 1_000_000)
    return [f"{token_of[row[0]]} {row[1]}" for row in rows]
