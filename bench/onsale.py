"""On-sale load test, reported like a public waiting-room load test.

A fresh PostgreSQL database and Redis namespace, one concert of ``dates`` dates x 50
seats, ``instances`` ``concert serve`` processes behind a client-side round robin, and
``fans`` simulated fans who arrive over a few seconds and each try to buy one seat:

    enter the queue -> poll (honouring ``poll_after_seconds`` / ``Retry-After``) until
    ACTIVE (re-entering if EXPIRED) -> list dates -> list a date's available seats ->
    hold one (another on 409 SEAT_UNAVAILABLE) -> charge the wallet with its price ->
    pay (with an Idempotency-Key, retried on 503 / 409 IN_PROGRESS).

A fan admitted after every seat is held or sold leaves the queue. The run stops as soon
as the database shows every seat SOLD; fans still waiting are cancelled. It then
audits the database (no seat sold twice, money conserved, each buyer debited once) and
reports client-side request counts, status codes and latency percentiles per endpoint,
the time to sell out, and the servers' CPU seconds (from ``/proc``) per ticket.

Reading the report:

- ``latency_ms`` is what the fans saw, from asking for a connection (one pool of
  ``CONNECTIONS`` over all instances) to the last byte; ``server_latency_ms`` is the
  servers' own mean per route (from ``/metrics``), so the gap is time queued outside the
  application. ``client_loop_lag_ms`` is how late the load generator's event loop ran:
  large values mean the client, which shares the machine, was short of CPU too.
- ``server_cpu_seconds`` is user + system time of the ``concert serve`` process groups
  while the fans run; ``database_cpu_seconds`` (this database's backends) and
  ``redis_cpu_seconds`` (the whole, shared Redis server) are beside it, not in it.
- ``seconds_to_sell_out`` runs from the first fan's arrival until a 0.25 s poll of the
  database sees every seat SOLD (``None`` if the time limit came first).
- ``fans`` counts outcomes: ``bought``, ``left_no_seats`` (admitted when every seat was
  held or sold), ``stopped_at_end`` (still in line when the run stopped),
  ``not_arrived``, ``gave_up`` (see ``unexpected_replies`` and ``transport_errors``).

Everything is torn down at the end: server processes, the database, the Redis keys;
server logs are kept (and their directory named) only if something went wrong.

    PYTHONPATH=src:. .venv/bin/python -m bench.onsale --fans 10000 --instances 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/{db}"
PG_SERVICE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/{db}"
REDIS_URL = "redis://127.0.0.1:6379/0"
API = "/api/v1"
SEATS_PER_DATE = 50

ENDPOINTS = ("issue", "status", "dates", "seats", "hold", "charge", "pay", "leave", "release")
RAMP_SECONDS = 5.0
"""Fans arrive evenly over this many seconds."""
CONNECTIONS = 300
"""The client's connection pool, shared by all instances."""
REQUEST_TIMEOUT = 60.0
SOLD_POLL_SECONDS = 0.25
TEARDOWN_RESERVE = 30.0
"""Seconds of ``time_limit`` kept for the audit and tear-down."""
LATENCY_METRIC = "concert_http_request_duration_seconds"
MAX_ATTEMPTS = 20
"""Transport errors and 5xx replies are retried this many times, then the fan gives up."""


class FanGaveUp(Exception):
    """A fan met something it cannot handle; counted, never fatal to the run."""


# -- client ---------------------------------------------------------------------------


class Client:
    """One aiohttp session spread round-robin over the instances, with lean bookkeeping:
    latency lists and status-code counters per endpoint, nothing logged per request."""

    def __init__(self, session: aiohttp.ClientSession, bases: list[str]) -> None:
        self._session = session
        self._bases = itertools.cycle(bases)
        self.latency: dict[str, list[float]] = {ep: [] for ep in ENDPOINTS}
        self.codes: dict[str, Counter[int]] = {ep: Counter() for ep in ENDPOINTS}
        self.transport_errors: Counter[str] = Counter()
        self.unexpected: Counter[str] = Counter()
        self.server_errors: Counter[str] = Counter()

    async def call(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        key: str | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any, float | None]:
        """Send one request (retried on transport errors and 5xx: every request this
        scenario sends is safe to repeat). Returns status, parsed body, Retry-After."""
        headers: dict[str, str] = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if key is not None:
            headers["Idempotency-Key"] = key
        latency = self.latency[endpoint]
        codes = self.codes[endpoint]
        for attempt in range(1, MAX_ATTEMPTS + 1):
            url = next(self._bases) + path
            started = time.perf_counter()
            try:
                async with self._session.request(
                    method, url, json=body, headers=headers, params=params
                ) as resp:
                    raw = await resp.read()
                    status = resp.status
                    retry_after = resp.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as error:
                self.transport_errors[f"{endpoint} {type(error).__name__}"] += 1
                await asyncio.sleep(min(0.1 * attempt, 1.0))
                continue
            latency.append(time.perf_counter() - started)
            codes[status] += 1
            if status >= 500:
                self.server_errors[_problem(endpoint, status, raw)] += 1
                await asyncio.sleep(_seconds(retry_after) or min(0.2 * attempt, 2.0))
                continue
            parsed = json.loads(raw) if raw else None
            return status, parsed, _seconds(retry_after)
        raise FanGaveUp(f"{endpoint}: no answer after {MAX_ATTEMPTS} attempts")

    def note(self, endpoint: str, status: int, body: Any) -> None:
        code = body.get("code") if isinstance(body, dict) else None
        self.unexpected[f"{endpoint} {status} {code or ''}".rstrip()] += 1


def _seconds(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        return None


def _problem(endpoint: str, status: int, raw: bytes) -> str:
    """``endpoint status CODE: detail`` of an error reply, for the report."""
    try:
        body = json.loads(raw)
    except ValueError:
        return f"{endpoint} {status}: {raw[:200].decode(errors='replace')}"
    if not isinstance(body, dict):
        return f"{endpoint} {status}"
    return f"{endpoint} {status} {body.get('code')}: {body.get('detail')}"


def _code(body: Any) -> str | None:
    return body.get("code") if isinstance(body, dict) else None


# -- fans -----------------------------------------------------------------------------


class Crowd:
    """The fans: each one enters, waits its turn, and buys one seat."""

    def __init__(self, client: Client, concert_id: int, fans: int, ramp: float) -> None:
        self.client = client
        self.concert_id = concert_id
        self.fans = fans
        self.ramp = ramp
        self.outcomes: Counter[str] = Counter()
        self.re_entries = 0
        self.seat_conflicts = 0

    async def fan(self, n: int) -> None:
        try:
            await asyncio.sleep(n * self.ramp / max(self.fans, 1))
        except asyncio.CancelledError:
            self.outcomes["not_arrived"] += 1
            raise
        user = str(uuid.uuid4())
        try:
            while True:
                token = await self._wait_until_active(user)
                outcome = await self._buy(user, token)
                if outcome != "requeue":
                    self.outcomes[outcome] += 1
                    return
                self.re_entries += 1
        except FanGaveUp:
            self.outcomes["gave_up"] += 1
        except asyncio.CancelledError:
            self.outcomes["stopped_at_end"] += 1
            raise

    async def _wait_until_active(self, user: str) -> str:
        c = self.client
        while True:
            status, place, retry_after = await c.call(
                "issue",
                "POST",
                f"{API}/queue/tokens",
                body={"user_id": user, "concert_id": self.concert_id},
            )
            if status not in (200, 201):
                c.note("issue", status, place)
                raise FanGaveUp("issue")
            token: str = place["token"]
            while place["status"] == "WAITING":
                await asyncio.sleep(max(place["poll_after_seconds"], retry_after or 0))
                status, place, retry_after = await c.call(
                    "status", "GET", f"{API}/queue/status", token=token
                )
                if status != 200:
                    c.note("status", status, place)
                    raise FanGaveUp("status")
            if place["status"] == "ACTIVE":
                return token
            self.re_entries += 1  # EXPIRED: enter again, at the back

    async def _buy(self, user: str, token: str) -> str:
        c = self.client
        concert = self.concert_id
        while True:
            status, dates, _ = await c.call(
                "dates", "GET", f"{API}/concerts/{concert}/dates", token=token
            )
            if status == 403:
                return "requeue"
            if status != 200:
                c.note("dates", status, dates)
                raise FanGaveUp("dates")
            open_dates = [d["date"] for d in dates if d["available_seats"] > 0]
            if not open_dates:
                await self._leave(token)
                return "left_no_seats"
            date = random.choice(open_dates)
            status, seat_map, _ = await c.call(
                "seats",
                "GET",
                f"{API}/concerts/{concert}/dates/{date}/seats",
                token=token,
                params={"available": "true"},
            )
            if status == 403:
                return "requeue"
            if status != 200:
                c.note("seats", status, seat_map)
                raise FanGaveUp("seats")
            seats = [s for s in seat_map["seats"] if s["status"] == "AVAILABLE"]
            random.shuffle(seats)
            held = None
            for seat in seats:
                status, reply, _ = await c.call(
                    "hold",
                    "POST",
                    f"{API}/reservations",
                    token=token,
                    body={"concert_id": concert, "date": date, "seat_no": seat["seat_no"]},
                )
                if status in (200, 201):
                    held = reply
                    break
                if status == 409 and _code(reply) == "SEAT_UNAVAILABLE":
                    self.seat_conflicts += 1
                    continue
                if status == 403 and _code(reply) == "TOKEN_NOT_ACTIVE":
                    return "requeue"
                c.note("hold", status, reply)
                raise FanGaveUp("hold")
            if held is not None:
                return await self._pay(user, token, held)

    async def _pay(self, user: str, token: str, held: dict[str, Any]) -> str:
        charge = f"{API}/users/{user}/balance/charge"
        status, reply = await self._keyed("charge", charge, {"amount": held["price"]})
        if status != 200:
            self.client.note("charge", status, reply)
            await self._give_back(token, held)
            return "charge_failed"
        body = {"reservation_ids": [held["reservation_id"]]}
        status, reply = await self._keyed("pay", f"{API}/payments", body, token=token)
        if status not in (200, 201):
            self.client.note("pay", status, reply)
            await self._give_back(token, held)
            return "pay_failed"
        return "bought"

    async def _keyed(
        self, endpoint: str, path: str, body: Any, *, token: str | None = None
    ) -> tuple[int, Any]:
        """POST with one Idempotency-Key, asked again while its first run is in progress."""
        key = str(uuid.uuid4())
        while True:
            status, reply, _ = await self.client.call(
                endpoint, "POST", path, token=token, body=body, key=key
            )
            if status == 409 and _code(reply) == "IDEMPOTENCY_IN_PROGRESS":
                await asyncio.sleep(0.1)
                continue
            return status, reply

    async def _give_back(self, token: str, held: dict[str, Any]) -> None:
        """A payment that failed: release the hold (so the seat can still sell) and leave."""
        rid = held["reservation_id"]
        status, reply, _ = await self.client.call(
            "release", "DELETE", f"{API}/reservations/{rid}", token=token
        )
        if status != 204:
            self.client.note("release", status, reply)
        await self._leave(token)

    async def _leave(self, token: str) -> None:
        status, reply, _ = await self.client.call(
            "leave", "DELETE", f"{API}/queue/tokens/me", token=token
        )
        if status != 204:
            self.client.note("leave", status, reply)


# -- processes ------------------------------------------------------------------------


def _concert_executable() -> str:
    for candidate in (Path(sys.executable).parent / "concert", ROOT / ".venv" / "bin" / "concert"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("concert")
    if found is None:
        raise RuntimeError("the `concert` command is not installed")
    return found


async def _serve_options(concert: str, env: dict[str, str], cwd: Path) -> list[str]:
    """``--no-access-log`` when this version of ``concert serve`` has it: a log line per
    request is server CPU the scenario would otherwise charge to every ticket."""
    proc = await asyncio.create_subprocess_exec(
        concert,
        "serve",
        "--help",
        env=env | {"COLUMNS": "200"},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 30.0)
    except TimeoutError:
        await _stop(proc)
        return []
    return ["--no-access-log"] if b"--no-access-log" in out else []


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((HOST, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


async def _run_command(
    args: list[str], env: dict[str, str], log: Path, cwd: Path, seconds: float
) -> None:
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        code = await asyncio.wait_for(proc.wait(), seconds)
    except TimeoutError:
        await _stop(proc)
        raise RuntimeError(f"{' '.join(args[1:])} took more than {seconds:.0f} s") from None
    if code != 0:
        raise RuntimeError(f"{' '.join(args[1:])} failed ({code}): {_tail(log)}")


async def _stop(proc: asyncio.subprocess.Process, grace: float = 12.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), grace)
    # Whatever is left in the group (the leader if it ignored SIGTERM, or workers). A
    # group id stays taken while any member lives, so a live group is still ours.
    if _group_members(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    if proc.returncode is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5.0)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _group_members(pgid: int) -> list[list[str]]:
    """``/proc/PID/stat`` of every live process in a group, from field 3 (state) on:
    pgrp is then at index 2, utime, stime, cutime and cstime at 11 to 14."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(fields)
    return members


def _group_cpu_seconds(pgid: int) -> float:
    """CPU seconds (user + system, with reaped children) of every live process in a group."""
    ticks = sum(sum(int(f) for f in fields[11:15]) for fields in _group_members(pgid))
    return ticks / _CLOCK_TICKS


def _pid_cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return sum(int(f) for f in fields[11:13]) / _CLOCK_TICKS


class OtherCpu:
    """CPU spent by this database's PostgreSQL backends (those alive at the end; a
    backend that came and went in between is missed) and by the Redis server (all of
    it: Redis is shared, so this is an upper bound)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._backends: dict[int, float] = {}
        self._redis = 0.0

    async def _snapshot(self) -> tuple[dict[int, float], float]:
        conn = await asyncpg.connect(self._dsn)
        try:
            pids = await conn.fetch(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await conn.close()
        backends = {row["pid"]: _pid_cpu_seconds(row["pid"]) for row in pids}
        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            info = await client.info("cpu")
        finally:
            await client.aclose()
        return backends, float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    async def start(self) -> None:
        with contextlib.suppress(Exception):
            self._backends, self._redis = await self._snapshot()

    async def stop(self) -> dict[str, float | None]:
        try:
            backends, redis_cpu = await self._snapshot()
        except Exception:
            return {"database_cpu_seconds": None, "redis_cpu_seconds": None}
        database = sum(cpu - self._backends.get(pid, 0.0) for pid, cpu in backends.items())
        return {
            "database_cpu_seconds": round(database, 2),
            "redis_cpu_seconds": round(redis_cpu - self._redis, 2),
        }


def _servers_cpu_seconds(servers: Iterable[asyncio.subprocess.Process]) -> float:
    return sum(_group_cpu_seconds(p.pid) for p in servers)


async def _wait_healthy(
    session: aiohttp.ClientSession,
    base: str,
    proc: asyncio.subprocess.Process,
    log: Path,
    seconds: float,
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"server {base} exited ({proc.returncode}): {_tail(log)}")
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.get(f"{base}/health") as resp:
                if resp.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"server {base} not healthy after {seconds:.0f} s: {_tail(log)}")


def _log_problems(paths: Iterable[Path]) -> int:
    """Lines in the server logs that are errors or tracebacks (not access-log lines)."""
    count = 0
    for path in paths:
        with contextlib.suppress(OSError), path.open(errors="replace") as lines:
            for line in lines:
                if line.startswith(("ERROR", "CRITICAL", "Traceback")):
                    count += 1
    return count


# -- measurements ---------------------------------------------------------------------


def _percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(samples)

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000

    return {"p50": round(rank(0.50), 2), "p99": round(rank(0.99), 2), "max": round(rank(1.0), 2)}


async def _watch_sell_out(dsn: str, seats: int, lags: list[float]) -> float:
    """Poll the database until every seat is SOLD; the perf_counter instant it saw it.

    Also notes how late each of its sleeps wakes up (into ``lags``): the client's event
    loop lag, which says whether the load generator itself kept up."""
    conn = await asyncpg.connect(dsn)
    try:
        while True:
            sold = await conn.fetchval("SELECT count(*) FROM seats WHERE status = 'SOLD'")
            if sold >= seats:
                return time.perf_counter()
            wake = time.perf_counter() + SOLD_POLL_SECONDS
            await asyncio.sleep(SOLD_POLL_SECONDS)
            lags.append(max(0.0, time.perf_counter() - wake))
    finally:
        await conn.close()


AUDIT_SQL = {
    "sold": "SELECT count(*) FROM seats WHERE status = 'SOLD'",
    "held": "SELECT count(*) FROM seats WHERE status = 'HELD'",
    "confirmed": "SELECT count(*) FROM reservations WHERE status = 'CONFIRMED'",
    "double_sold": """
        SELECT count(*) FROM (
            SELECT 1 FROM reservations WHERE status = 'CONFIRMED'
            GROUP BY concert_id, date, seat_no HAVING count(*) > 1
        ) AS twice""",
    "sold_without_one_confirmed": """
        SELECT count(*) FROM seats s
        WHERE s.status = 'SOLD' AND (
            SELECT count(*) FROM reservations r
            WHERE r.concert_id = s.concert_id AND r.date = s.date AND r.seat_no = s.seat_no
              AND r.status = 'CONFIRMED'
        ) <> 1""",
    "charged": "SELECT coalesce(sum(amount), 0) FROM ledger WHERE amount > 0",
    "debited": "SELECT coalesce(-sum(amount), 0) FROM ledger WHERE amount < 0",
    "balances": "SELECT coalesce(sum(balance), 0) FROM wallets",
    "paid": "SELECT coalesce(sum(amount), 0) FROM payments",
    "sold_seat_prices": "SELECT coalesce(sum(price), 0) FROM seats WHERE status = 'SOLD'",
    "wallets_off_ledger": """
        SELECT count(*) FROM wallets w
        LEFT JOIN (SELECT user_id, sum(amount) AS total FROM ledger GROUP BY user_id) l
          ON l.user_id = w.user_id
        WHERE w.balance <> coalesce(l.total, 0)""",
    "payments": "SELECT count(*) FROM payments",
    "payers": "SELECT count(DISTINCT user_id) FROM payments",
    "payers_debited_not_once": """
        SELECT count(*) FROM (
            SELECT p.user_id FROM (SELECT DISTINCT user_id FROM payments) p
            LEFT JOIN ledger l ON l.user_id = p.user_id AND l.kind = 'PAYMENT'
            GROUP BY p.user_id HAVING count(l.serial) <> 1
        ) AS odd""",
    "debits_without_payment": """
        SELECT count(*) FROM ledger l
        WHERE l.kind = 'PAYMENT'
          AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.payment_id = l.payment_id)""",
}


async def _audit(dsn: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        values = {name: await conn.fetchval(sql) for name, sql in AUDIT_SQL.items()}
    finally:
        await conn.close()
    # sum() is numeric in PostgreSQL: money is a whole number of won.
    return {name: int(v) if isinstance(v, Decimal) else v for name, v in values.items()}


# -- the scenario ---------------------------------------------------------------------


async def run_onsale(
    *,
    fans: int = 10_000,
    instances: int = 2,
    capacity: int = 200,
    dates: int = 10,
    time_limit: float = 420.0,
) -> dict[str, Any]:
    """Run the on-sale scenario end to end and return its report (see the module doc)."""
    if min(fans, instances, capacity, dates) < 1:
        raise ValueError("fans, instances, capacity and dates must be positive")
    wall_start = time.monotonic()
    deadline = wall_start + time_limit
    tag = secrets.token_hex(6)
    db = f"bench_onsale_{tag}"
    namespace = f"bench_onsale_{tag}"
    seats = dates * SEATS_PER_DATE
    concert = _concert_executable()
    workdir = Path(tempfile.mkdtemp(prefix=f"{db}_"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONCERT_")}
    env.update(
        CONCERT_DATABASE_URL=PG_SERVICE_URL.format(db=db),
        CONCERT_REDIS_URL=REDIS_URL,
        CONCERT_REDIS_NAMESPACE=namespace,
        CONCERT_TOKEN_SECRET=secrets.token_hex(32),
        CONCERT_ACTIVE_CAPACITY=str(capacity),
        CONCERT_ADMISSION_INTERVAL_SECONDS="1",
        PYTHONUNBUFFERED="1",
    )
    dsn = PG_DSN.format(db=db)
    servers: list[asyncio.subprocess.Process] = []
    logs: list[Path] = []
    db_created = False
    keep_logs = False

    def remaining(reserve: float = TEARDOWN_RESERVE) -> float:
        left = deadline - time.monotonic() - reserve
        if left <= 0:
            raise TimeoutError(f"on-sale scenario: time limit of {time_limit:.0f} s reached")
        return left

    try:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            db_created = True  # dropped IF EXISTS at the end, however far this got
            await admin.execute(f'CREATE DATABASE "{db}"')
        finally:
            await admin.close()
        setup_log = workdir / "setup.log"
        await _run_command(
            [concert, "db", "upgrade"], env, setup_log, workdir, min(120.0, remaining())
        )
        await _run_command(
            [concert, "seed", "--concerts", "1", "--dates", str(dates)],
            env,
            setup_log,
            workdir,
            min(120.0, remaining()),
        )
        conn = await asyncpg.connect(dsn)
        try:
            concert_id = await conn.fetchval("SELECT min(concert_id) FROM concerts")
            seeded = await conn.fetchval(
                "SELECT count(*) FROM seats WHERE concert_id = $1 AND status = 'AVAILABLE'",
                concert_id,
            )
        finally:
            await conn.close()
        if seeded != seats:
            raise RuntimeError(f"seeded {seeded} seats, expected {seats}")

        serve_options = await _serve_options(concert, env, workdir)
        ports = _free_ports(instances)
        bases = [f"http://{HOST}:{port}" for port in ports]
        for i, port in enumerate(ports):
            log = workdir / f"server-{i}.log"
            logs.append(log)
            with log.open("ab") as out:
                servers.append(
                    await asyncio.create_subprocess_exec(
                        concert,
                        "serve",
                        "--host",
                        HOST,
                        "--port",
                        str(port),
                        *serve_options,
                        env=env,
                        cwd=workdir,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as probe:
            for base, proc, log in zip(bases, servers, logs, strict=True):
                await _wait_healthy(probe, base, proc, log, min(60.0, remaining()))

        report = await _drive(bases, servers, dsn, concert_id, fans, seats, remaining())
        report["audit"] = audit = await asyncio.wait_for(_audit(dsn), remaining(5.0))
        report["server_log_errors"] = _log_problems(logs)
        report["server_access_log"] = not serve_options
        keep_logs = report["server_log_errors"] > 0
    except Exception:
        keep_logs = True  # a failure: its logs are the evidence (not so for a cancel)
        raise
    finally:
        await asyncio.gather(*(_stop(proc) for proc in servers), return_exceptions=True)
        with contextlib.suppress(Exception):
            await _clear_redis(namespace)
        if db_created:
            with contextlib.suppress(Exception):
                admin = await asyncpg.connect(PG_ADMIN_DSN)
                try:
                    await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
                finally:
                    await admin.close()
        if not keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"bench.onsale: server logs kept in {workdir}", file=sys.stderr)

    sold = audit["sold"]
    result: dict[str, Any] = {
        "users": fans,
        "instances": instances,
        "capacity": capacity,
        "seats": seats,
        "sold": sold,
        "double_sold": audit["double_sold"],
        "money_conserved": (
            audit["charged"] == audit["balances"] + audit["paid"]
            and audit["debited"] == audit["paid"]
            and audit["paid"] == audit["sold_seat_prices"]
            and audit["wallets_off_ledger"] == 0
        ),
        "every_buyer_debited_once": (
            audit["payments"] == sold
            and audit["payers"] == audit["payments"]
            and audit["payers_debited_not_once"] == 0
            and audit["debits_without_payment"] == 0
            and audit["confirmed"] == sold
            and audit["sold_without_one_confirmed"] == 0
        ),
        "seconds_to_sell_out": report.pop("seconds_to_sell_out"),
    }
    result.update(report)
    server_cpu = result["server_cpu_seconds"]
    result["cpu_seconds_per_ticket"] = round(server_cpu / sold, 4) if sold else None
    result["wall_seconds"] = round(time.monotonic() - wall_start, 2)
    if keep_logs:
        result["server_logs"] = str(workdir)
    order = [
        "users",
        "instances",
        "capacity",
        "seats",
        "sold",
        "double_sold",
        "money_conserved",
        "every_buyer_debited_once",
        "seconds_to_sell_out",
        "server_cpu_seconds",
        "cpu_seconds_per_ticket",
        "client_cpu_seconds",
    ]
    return {k: result[k] for k in order} | {k: v for k, v in result.items() if k not in order}


async def _drive(
    bases: list[str],
    servers: list[asyncio.subprocess.Process],
    dsn: str,
    concert_id: int,
    fans: int,
    seats: int,
    budget: float,
) -> dict[str, Any]:
    """Let the fans loose until every seat is sold, every fan is done, or ``budget``
    seconds pass; then cancel whoever is left and report what the client saw."""
    # Idle connections are dropped before uvicorn's 5 s keep-alive closes them.
    connector = aiohttp.TCPConnector(limit=CONNECTIONS, keepalive_timeout=3.0)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
    ) as session:
        client = Client(session, bases)
        crowd = Crowd(client, concert_id, fans, RAMP_SECONDS)
        loop_lags: list[float] = []
        others = OtherCpu(dsn)
        await others.start()
        cpu_before = _servers_cpu_seconds(servers)
        client_cpu_before = time.process_time()
        started = time.perf_counter()
        watcher = asyncio.create_task(_watch_sell_out(dsn, seats, loop_lags))
        tasks = [asyncio.create_task(crowd.fan(n)) for n in range(fans)]
        everyone = asyncio.gather(*tasks, return_exceptions=True)
        try:
            await asyncio.wait(
                {watcher, everyone}, timeout=budget, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(everyone, return_exceptions=True)
            if not watcher.done():
                watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(watcher, return_exceptions=True)
        ended = time.perf_counter()
        server_cpu = _servers_cpu_seconds(servers) - cpu_before
        client_cpu = time.process_time() - client_cpu_before
        other_cpu = await others.stop()
        server_latency = await _server_latency(session, bases)
    sold_at = watcher.result() if watcher.done() and not watcher.cancelled() else None
    requests = {ep: len(client.latency[ep]) for ep in ENDPOINTS}
    codes: Counter[int] = Counter()
    for counter in client.codes.values():
        codes.update(counter)
    return {
        "seconds_to_sell_out": round(sold_at - started, 3) if sold_at is not None else None,
        "sold_out": sold_at is not None,
        "scenario_seconds": round(ended - started, 3),
        "server_cpu_seconds": round(server_cpu, 2),
        "client_cpu_seconds": round(client_cpu, 2),
        "client_loop_lag_ms": _percentiles(loop_lags),
        **other_cpu,
        "requests": {ep: n for ep, n in requests.items() if ep != "release" or n}
        | {"total": sum(requests.values())},
        "latency_ms": {
            ep: _percentiles(client.latency[ep])
            for ep in ENDPOINTS
            if ep != "release" or client.latency[ep]
        },
        "server_latency_ms": server_latency,
        "status_codes": {str(code): n for code, n in sorted(codes.items())},
        "status_codes_by_endpoint": {
            ep: {str(code): n for code, n in sorted(client.codes[ep].items())}
            for ep in ENDPOINTS
            if client.codes[ep]
        },
        "server_errors": sum(n for code, n in codes.items() if code >= 500),
        "server_error_replies": dict(client.server_errors),
        "transport_errors": dict(client.transport_errors),
        "unexpected_replies": dict(client.unexpected),
        "fans": dict(crowd.outcomes)
        | {"re_entries": crowd.re_entries, "seat_conflicts": crowd.seat_conflicts},
    }


async def _server_latency(session: aiohttp.ClientSession, bases: list[str]) -> dict[str, Any]:
    """Mean time in the server per route, from every instance's ``/metrics`` (the
    request-duration histogram's sum and count): beside the client's latencies, it
    tells time spent queued in the client from time spent answering."""
    sums: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for base in bases:
        try:
            async with session.get(f"{base}/metrics") as resp:
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError):
            continue
        for line in text.splitlines():
            name, _, rest = line.partition("{")
            if name not in (f"{LATENCY_METRIC}_sum", f"{LATENCY_METRIC}_count"):
                continue
            labels, _, value = rest.rpartition("} ")
            fields = {
                k: v.strip('"') for k, _, v in (item.partition("=") for item in labels.split(","))
            }
            route = f"{fields.get('method', '')} {fields.get('route', '')}"
            (sums if name.endswith("_sum") else counts)[route] += float(value)
    return {
        route: {"requests": int(n), "mean_ms": round(sums[route] / n * 1000, 2)}
        for route, n in sorted(counts.items())
        if n
    }


async def _clear_redis(namespace: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=f"{namespace}:*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                await client.unlink(*batch)
                batch.clear()
        if batch:
            await client.unlink(*batch)
    finally:
        await client.aclose()


# -- standalone -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.onsale", description=__doc__)
    parser.add_argument("--fans", type=int, default=10_000)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--capacity", type=int, default=200)
    parser.add_argument("--dates", type=int, default=10)
    parser.add_argument("--time-limit", type=float, default=420.0)
    args = parser.parse_args(argv)

    async def work() -> dict[str, Any]:
        # SIGTERM, like Ctrl-C, cancels the run, so that it still tears everything down.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await run_onsale(
            fans=args.fans,
            instances=args.instances,
            capacity=args.capacity,
            dates=args.dates,
            time_limit=args.time_limit,
        )

    try:
        import uvloop
    except ImportError:
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            result = runner.run(work())
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench.onsale: interrupted (torn down)", file=sys.stderr)
        sys.exit(130)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
