"""The endpoints and their ceilings: fans prepared through the API, then each endpoint
driven by wrk, its own ceiling run just before and just after it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bench import api, log, proofs, wrk
from bench.ceilings import CREATE, CREATE_READ
from bench.cpu import group_cpu_seconds
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

CEILINGS = {"ping": "/ping", "redis": "/redis", "pg_write": "/pg", "pg_read": "/pg_read"}
CEILING_OF = {
    "queue_issue": "redis",
    "queue_status": "redis",
    "seats": "pg_read",
    "hold": "pg_write",
    "pay": "pg_write",
    "queue_issue_plain": "redis",
}
"""Each endpoint's ceiling: the least work that kind of endpoint must do (the seat
list's was ``ping`` until issue 16; ``seats_vs_ping`` is still recorded, to the ``ping``
ceiling measured at the start of the run)."""
ENDPOINTS = ("queue_issue", "queue_status", "seats", "hold", "pay", "queue_issue_plain")
JOIN_PATH = {"queue_issue": "limiter and challenge"}
"""The judged join (``queue_issue``: the per-address join limit on and the sale's join
challenge on, as a sale under attack runs) beside the plain join
(``queue_issue_plain``: rate limits off, no challenge: the engine alone), by what its
guards add."""
JOIN_PLAIN = "queue_issue_plain"
JOIN_LIMIT = "1000000"
"""The join's limit per address per minute, on the service that serves ``queue_issue``
(and every figure before it): so many that no join is refused, so that every join pays
the limiter's script. wrk joins from one address: every join logs under one key,
whose window holds every join of the last 60 s, the worst case for one key."""
CHALLENGE_MAX_NUMBER = "1000"
"""``queue_issue``'s challenges: small, so that the bench solves tens of thousands in
seconds; the service's check of a proof costs the same for any."""
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
ISSUE_INTO = wrk.POST_JSON + (
    "local function hex(n) local s = '' for _ = 1, n do "
    "s = s .. string.format('%x', math.random(0, 15)) end return s end\n"
    "request = function()\n"
    "  local user = hex(8) .. '-' .. hex(4) .. '-4' .. hex(3) .. '-8' .. hex(3)\n"
    "    .. '-' .. hex(12)\n"
    '  local body = \'{"user_id": "\' .. user .. \'", "concert_id": {concert}}\'\n'
    "  return wrk.format(nil, nil, nil, body)\n"
    "end\n"
)
"""A fresh random user enters the line of concert ``{concert}`` with every request."""
ISSUE_PLAIN = ISSUE_INTO.replace("{concert}", "3")
ISSUE_WITH_PROOF = wrk.POST_JSON + (
    "request = function()\n"
    "  local line = take_line()\n"
    "  if line == nil then\n"
    '    return wrk.format(nil, nil, nil, \'{"user_id": "{nobody}", "concert_id": {concert}, \'\n'
    '      .. \'"proof": "none"}\')\n'
    "  end\n"
    "  local f = split(line)\n"
    '  local body = \'{"user_id": "\' .. f[1] .. \'", "concert_id": {concert}, "proof": "\'\n'
    "    .. f[2] .. '\"}'\n"
    "  return wrk.format(nil, nil, nil, body)\n"
    "end\n"
).replace("{nobody}", "00000000-0000-4000-8000-000000000000")
"""Each line ``user_id proof``: a new fan enters concert ``{concert}``'s line with a
proof of its own. Once the lines are used up, every request is one that is refused
(403, no proof), and so not counted."""


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
    asyncio.run(execute(database_url, CREATE_READ))
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
    the reference its ratio is taken to, so that drift over the run falls on both.

    The service runs with the per-address join limit on (``JOIN_LIMIT``: no join is
    refused; only joins consult it). The judged join comes last on it, on a concert of
    its own added then whose sale asks for the join challenge, a proof per join; the
    plain join after it, on a second service started once this one stops, with rate
    limits off, on concert 3 (no challenge)."""
    admin_key = secrets.token_urlsafe(32)
    settings = {
        "active_capacity": str(ACTIVE_FANS),
        "max_holds_per_user": "1",
        "admission_interval_seconds": "1",
        # For the joins alone: no other endpoint asks for a challenge, reads the
        # operator key or consults the join limit. The challenges live long enough to
        # be prepared first.
        "admin_key": admin_key,
        "challenge_max_number": CHALLENGE_MAX_NUMBER,
        "challenge_ttl_seconds": "3600",
    }
    guarded = {**settings, "rate_limit_joins_per_minute": JOIN_LIMIT}
    env = service_env(database_url, namespace, **guarded)
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
    service_cpu_us: dict[str, int] = {}
    """The service's own processes' CPU per counted request (its process group: other
    processes sharing the machine are not in it, as they are in ``other``)."""

    def measure(
        name: str, url: str, lua: str, *, on: Server = server, successes_only: bool = False
    ) -> None:
        if name not in only:
            return
        if ceiling is not None:
            before = run_ceiling(ceiling, CEILING_OF[name], seconds / 2)
        spent = group_cpu_seconds(on.process.pid)
        with (
            contextlib.nullcontext()
            if profile is None
            else sampling(on, profile / f"{name}.txt", seconds)
        ):
            result = wrk.run(name, url, lua, seconds=seconds, successes_only=successes_only)
        spent = group_cpu_seconds(on.process.pid) - spent
        results[name] = result
        counted = max(1.0, result.requests_per_second * result.seconds)
        service_cpu_us[name] = round(spent / counted * 1e6)
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
        counts = {"holds_available": len(hold_lines), "payments_available": len(pay_lines)}
        # Last: the tokens it issues (tens of thousands) would keep the admission loop
        # busy during the endpoints after it.
        if "queue_issue" in only:
            concert = _add_concert(api_base, admin_key, "challenge", {"join_challenge": True})
            count = proofs.proofs_needed(seconds)
            log(f"preparing {count:,} solved join challenges (maxnumber {CHALLENGE_MAX_NUMBER})")
            lines = proofs.prepare(api_base, concert, count)
            log(
                f"endpoint: token issue (the join limit on at {JOIN_LIMIT} a minute, the "
                "join challenge on: a proof each)"
            )
            lua = ISSUE_WITH_PROOF.replace("{concert}", str(concert))
            measure(
                "queue_issue",
                f"{api_base}/queue/tokens",
                wrk.script(lua, lines=lines),
                successes_only=True,
            )
            counts["proofs_available"] = len(lines)
            _check_proofs_lasted(results["queue_issue"], len(lines))
    finally:
        server.stop()

    if JOIN_PLAIN in only:
        server = serve(service_env(database_url, namespace, **settings), logs, "service-plain")
        try:
            log("endpoint: token issue, plain (rate limits off, no challenge)")
            measure(
                JOIN_PLAIN,
                f"{server.base}/api/v1/queue/tokens",
                wrk.script(ISSUE_PLAIN),
                on=server,
            )
        finally:
            server.stop()
    return {"results": results, "beside": beside, "service_cpu_us": service_cpu_us, **counts}


def _add_concert(api_base: str, admin_key: str, what: str, sale: dict[str, object]) -> int:
    """A concert of its own for the judged join, its line empty as concert 3's is when
    ``queue_issue_plain`` starts."""

    async def add() -> int:
        async with api.session() as session:
            return await api.add_concert(session, api_base, admin_key, f"Bench {what}", sale)

    return asyncio.run(add())


def _check_proofs_lasted(result: wrk.Result, proofs_available: int) -> None:
    """Say so when the proofs ran out: the joins after that were refused, and are not
    in the rate (fewer proofs than the run could use: the rate is understated)."""
    if result.failures:
        log(
            f"warning: queue_issue used up its {proofs_available:,} proofs; "
            f"{result.failures:,} joins after that were refused and not counted"
        )


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
