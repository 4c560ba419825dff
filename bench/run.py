"""``make bench``: the ceilings, the endpoints, the scale curve and the on-sale, in one
run on PostgreSQL + Redis; writes ``bench/results/latest.json`` and appends a table to
``docs/benchmarks.md``.

Every figure that has a target is a ratio to a ceiling measured in the same run:
absolute numbers on a shared 2-core machine drift from run to run, ratios much less.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from bench import wrk

ROOT = Path(__file__).resolve().parents[1]
CONCERT = [str(Path(sys.executable).parent / "concert")]
ADMIN_DSN = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
WORKERS = 2
CONNECTIONS = 64
TARGETS = {
    "queue_status_vs_redis": (">=", 0.75),
    "queue_issue_vs_redis": (">=", 0.60),
    "hold_vs_pg_write": (">=", 0.50),
    "pay_vs_pg_write": (">=", 0.35),
    "position_1m_vs_1k_latency": ("<=", 1.2),
    "redis_bytes_per_waiting_user": ("<=", 200),
}
ACTIVE_FANS = 9_000
"""Fans let in on concert 1 (seat lists, holds, payments): one hold each."""
WAITING_FANS = 2_000
"""Fans still waiting on concert 2 (status polls), behind ACTIVE_FANS let in."""
HOLD_DATES = 160
"""Dates seeded: 160 x 50 = 8,000 seats to hold, one per fan."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- the stores ------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:10]}"

    asyncio.run(_execute(ADMIN_DSN, f'CREATE DATABASE "{name}"'))
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_execute(ADMIN_DSN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def migrated_database(namespace: str) -> Iterator[str]:
    """A fresh database, migrated, for one run (dropped afterwards)."""
    with fresh_database() as database_url:
        subprocess.run(
            [*CONCERT, "db", "upgrade"],
            env=service_env(database_url, namespace),
            check=True,
            capture_output=True,
        )
        yield database_url


async def forget_namespace(namespace: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        async for key in client.scan_iter(match=f"{namespace}:*", count=1_000):
            await client.unlink(key)
    finally:
        await client.aclose()


# -- servers ---------------------------------------------------------------------------


class Server:
    """A server process (and its workers), its CPU time read from /proc."""

    def __init__(self, command: list[str], env: dict[str, str], port: int, log_path: Path):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_until(self, path: str, seconds: float = 60) -> None:
        import urllib.request

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server on {self.port} exited: see {self._log.name}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.base + path, timeout=2) as reply,
            ):
                if reply.status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"server on {self.port} did not answer {path}")

    def cpu_seconds(self) -> float:
        """User + system seconds of the process group (the server and its workers)."""
        total = 0.0
        tick = os.sysconf("SC_CLK_TCK")
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.process.pid:  # same process group
                    total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._log.close()


@contextlib.contextmanager
def sampling(server: Server, out: Path, seconds: float) -> Iterator[None]:
    """py-spy samples the server's workers while the block runs (``--profile``): one
    collapsed stack per line with its count, for flame graphs or ``grep``."""
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    command = [str(spy), "record", "--pid", str(server.process.pid), "--subprocesses"]
    command += ["--nonblocking", "--rate", "250", "--format", "raw", "-o", str(out)]
    command += ["--duration", str(max(1, int(seconds) - 1))]
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        recorder.wait(timeout=60)
        log(f"profile: {out}")


def uvicorn_command(app: str, port: int, *, factory: bool = True) -> list[str]:
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port)]
    command += ["--workers", str(WORKERS), "--no-access-log", "--log-level", "warning"]
    return command + (["--factory"] if factory else [])


# -- a client for preparing state ------------------------------------------------------


async def gather_limited(work: list[Any], limit: int = 200) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(coroutine: Any) -> Any:
        async with gate:
            return await coroutine

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


# -- phases ----------------------------------------------------------------------------


CEILINGS = {"ping": "/ping", "redis": "/redis", "pg_write": "/pg"}
CEILING_OF = {
    "queue_issue": "redis",
    "queue_status": "redis",
    "seats": "ping",
    "hold": "pg_write",
    "pay": "pg_write",
}
"""Each endpoint's ceiling: the least work that kind of endpoint must do."""


@contextlib.contextmanager
def ceiling_server(database_url: str, logs: Path) -> Iterator[Server]:
    """The ceilings' bare app, served like the service, for the whole run."""
    port = free_port()
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": database_url,
        "BENCH_REDIS_URL": REDIS_URL,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    from bench.ceilings import CREATE

    asyncio.run(_execute(database_url, CREATE))
    server = Server(
        uvicorn_command("bench.ceilings:create_app", port), env, port, logs / "ceilings.log"
    )
    try:
        server.wait_until("/ping")
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def bench_stores(namespace: str, logs: Path) -> Iterator[tuple[str, Server]]:
    """A fresh migrated database and the ceilings' app on it, for one run."""
    with migrated_database(namespace) as database_url, ceiling_server(database_url, logs) as app:
        yield database_url, app


def run_ceiling(server: Server, name: str, seconds: float) -> wrk.Result:
    path = CEILINGS[name]
    script = wrk.script(wrk.post_json("") if name == "pg_write" else "")
    return wrk.run(name, server.base + path, script, seconds=seconds, connections=CONNECTIONS)


def measure_ceilings(server: Server, seconds: float) -> dict[str, wrk.Result]:
    results = {}
    for name in CEILINGS:
        log(f"ceiling {name}")
        run_ceiling(server, name, 2)  # warm-up
        results[name] = run_ceiling(server, name, seconds)
    return results


async def _execute(database_url: str, statement: str) -> None:
    connection = await asyncpg.connect(
        database_url.replace("postgresql+asyncpg://", "postgresql://")
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def service_env(database_url: str, namespace: str, **settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "CONCERT_DATABASE_URL": database_url,
        "CONCERT_REDIS_URL": REDIS_URL,
        "CONCERT_REDIS_NAMESPACE": namespace,
        **{f"CONCERT_{k.upper()}": v for k, v in settings.items()},
    }


def serve(env: dict[str, str], logs: Path, name: str) -> Server:
    port = free_port()
    command = [*CONCERT, "serve", "--port", str(port), "--workers", str(WORKERS)]
    server = Server([*command, "--no-access-log"], env, port, logs / f"{name}.log")
    server.wait_until("/health")
    return server


ENDPOINTS = ("queue_issue", "queue_status", "seats", "hold", "pay")


def measure_endpoints(
    database_url: str,
    namespace: str,
    seconds: float,
    logs: Path,
    *,
    only: frozenset[str] = frozenset(ENDPOINTS),
    profile: Path | None = None,
    ceiling: Server | None = None,
) -> dict:
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
        [*CONCERT, "seed", "--concerts", "5", "--dates", str(HOLD_DATES)],
        env=env,
        check=True,
        capture_output=True,
    )
    server = serve(env, logs, "service")
    api = server.base + "/api/v1"

    beside: dict[str, wrk.Result] = {}

    def measure(name: str, url: str, lua: str) -> None:
        if name not in only:
            return
        if ceiling is not None:
            before = run_ceiling(ceiling, CEILING_OF[name], seconds / 2)
        if profile is None:
            results[name] = wrk.run(name, url, lua, seconds=seconds, connections=CONNECTIONS)
        else:
            with sampling(server, profile / f"{name}.txt", seconds):
                results[name] = wrk.run(name, url, lua, seconds=seconds, connections=CONNECTIONS)
        if ceiling is not None:
            after = run_ceiling(ceiling, CEILING_OF[name], seconds / 2)
            beside[name] = wrk.combined([before, after])

    try:
        log(f"preparing {ACTIVE_FANS:,} active fans and {WAITING_FANS:,} waiting ones")
        active_users = [str(uuid.uuid4()) for _ in range(ACTIVE_FANS)]
        prepared = asyncio.run(_prepare(api, active_users))
        active, waiting = prepared
        results: dict[str, wrk.Result] = {}

        log("endpoint: queue status poll (waiting fans)")
        poll = wrk.script(
            wrk.BEARER_GET,
            lines=waiting,
        )
        measure("queue_status", f"{api}/queue/status", poll)

        log("endpoint: seat list")
        date = "2027-03-06"
        seats = wrk.script(
            wrk.BEARER_GET,
            lines=[token for token, _ in active],
        )
        measure("seats", f"{api}/concerts/1/dates/{date}/seats", seats)

        log("endpoint: hold (each fan one seat of its own)")
        first = dt.date(2027, 3, 6)
        hold_lines = [
            f"{token} {(first + dt.timedelta(weeks=i // 50)).isoformat()} {i % 50 + 1}"
            for i, (token, _) in enumerate(active[: HOLD_DATES * 50])
        ]
        hold = wrk.script(
            wrk.POST_JSON + "request = function()\n"
            "  local f = split(next_line())\n"
            '  local body = \'{"concert_id": 1, "date": "\' .. f[2]\n'
            "    .. '\", \"seat_no\": ' .. f[3] .. '}'\n"
            "  return wrk.format(nil, nil, {Authorization = 'Bearer ' .. f[1]}, body)\n"
            "end\n",
            lines=hold_lines,
        )
        measure("hold", f"{api}/reservations", hold)

        log("endpoint: pay (each holder once)")
        pay_lines = asyncio.run(_prepare_payments(api, database_url, dict(active)))
        pay = wrk.script(
            wrk.POST_JSON + "request = function()\n"
            "  local f = split(next_line())\n"
            "  local body = '{\"reservation_ids\": [\"' .. f[2] .. '\"]}'\n"
            "  return wrk.format(nil, nil, {Authorization = 'Bearer ' .. f[1]}, body)\n"
            "end\n",
            lines=pay_lines,
        )
        measure("pay", f"{api}/payments", pay)
        # Last: the tokens it issues (tens of thousands) would keep the admission loop
        # busy during the endpoints after it.
        log("endpoint: token issue")
        issue = wrk.script(
            wrk.POST_JSON + "local function hex(n) local s = '' for _ = 1, n do "
            "s = s .. string.format('%x', math.random(0, 15)) end return s end\n"
            "request = function()\n"
            "  local user = hex(8) .. '-' .. hex(4) .. '-4' .. hex(3) .. '-8' .. hex(3)\n"
            "    .. '-' .. hex(12)\n"
            '  local body = \'{"user_id": "\' .. user .. \'", "concert_id": 3}\'\n'
            "  return wrk.format(nil, nil, nil, body)\n"
            "end\n"
        )
        measure("queue_issue", f"{api}/queue/tokens", issue)

        results_meta = {"holds_available": len(hold_lines), "payments_available": len(pay_lines)}
        return {"results": results, "beside": beside, **results_meta}
    finally:
        server.stop()


async def _prepare(api: str, users: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        tokens = await issue_tokens(session, api, 1, users)
        others = [str(uuid.uuid4()) for _ in range(ACTIVE_FANS + WAITING_FANS)]
        line = await issue_tokens(session, api, 2, others)
        for _ in range(60):
            await asyncio.sleep(1)
            states = await statuses(session, api, tokens)
            if all(s == "ACTIVE" for s in states):
                break
        else:
            raise RuntimeError("the admission loop did not let the fans in")
        waiting_states = await statuses(session, api, line)
        waiting = [t for t, s in zip(line, waiting_states, strict=True) if s == "WAITING"]
        return list(zip(tokens, users, strict=True)), waiting


async def _prepare_payments(api: str, database_url: str, user_of: dict[str, str]) -> list[str]:
    """``token reservation_id`` for every fan holding a seat, wallets topped up."""
    token_of = {user: token for token, user in user_of.items()}
    connection = await asyncpg.connect(
        database_url.replace("postgresql+asyncpg://", "postgresql://")
    )
    try:
        rows = await connection.fetch(
            "SELECT user_id::text, reservation_id::text FROM reservations WHERE status = 'HELD'"
        )
    finally:
        await connection.close()
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def charge(user: str) -> None:
            async with session.post(
                f"{api}/users/{user}/balance/charge", json={"amount": 1_000_000}
            ) as reply:
                if reply.status != 200:
                    raise RuntimeError(f"charge: {reply.status} {await reply.text()}")

        await gather_limited([charge(row[0]) for row in rows])
    return [f"{token_of[row[0]]} {row[1]}" for row in rows]


def measure_scale(database_url: str, namespace: str, logs: Path, big: int) -> dict:
    """Poll latency at the back of a line of 1,000 (concert 4) and of ``big`` (concert
    5), measured in turns (1k, big, 1k, big) so that the machine's drift falls on both
    alike; Redis bytes per token over the filling of the big line."""
    env = service_env(
        database_url, namespace, active_capacity="1", admission_interval_seconds="3600"
    )
    server = serve(env, logs, "scale")
    api = server.base + "/api/v1"
    try:
        log(f"scale: filling a line to {big:,}")
        per_token = asyncio.run(_fill(namespace, 5, big - 1_000))
        back = asyncio.run(_issue_many(api, 5, 1_000))
        small = asyncio.run(_issue_many(api, 4, 1_000))
        runs: dict[str, list[wrk.Result]] = {"poll_1k": [], "poll_1m": []}
        for turn in range(2):
            for name, lines in (("poll_1k", small), ("poll_1m", back)):
                log(f"scale: {name}, turn {turn + 1}")
                script = wrk.script(wrk.BEARER_GET, lines=lines)
                runs[name].append(
                    wrk.run(name, f"{api}/queue/status", script, seconds=5, connections=CONNECTIONS)
                )
        return {
            "at_1k": wrk.combined(runs["poll_1k"]),
            "at_1m": wrk.combined(runs["poll_1m"]),
            "bytes_per_token": per_token,
            "line": big,
        }
    finally:
        server.stop()


async def _issue_many(api: str, concert: int, count: int) -> list[str]:
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        return await issue_tokens(session, api, concert, [str(uuid.uuid4()) for _ in range(count)])


async def _fill(namespace: str, concert: int, count: int) -> float:
    """Issue ``count`` tokens straight through the store; Redis bytes per token."""
    from adapters.redis import RedisQueueStore, connect, redis_time
    from concert_core import Policy
    from concert_core.domain import ConcertId, TokenId, UserId

    client = connect(REDIS_URL, max_connections=64)
    store = RedisQueueStore(client, Policy(), namespace=namespace)
    try:
        before = (await client.info("memory"))["used_memory"]
        now = await redis_time(client)
        cid = ConcertId(concert)
        chunk = 5_000
        for start in range(0, count, chunk):
            await gather_limited(
                [
                    store.issue(UserId(uuid.uuid4()), cid, TokenId(uuid.uuid4()), now)
                    for _ in range(min(chunk, count - start))
                ],
                limit=64,
            )
            if start % 200_000 == 0:
                log(f"  {start:,} issued")
        after = (await client.info("memory"))["used_memory"]
        return (after - before) / count
    finally:
        await client.aclose()


# -- report ----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "postgres": subprocess.run(
            ["psql", "--version"], capture_output=True, text=True
        ).stdout.strip(),
        "redis": subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True
        ).stdout.split()[2],
        "wrk": f"-t2 -c{CONNECTIONS}",
        "server_workers": WORKERS,
    }


def only_endpoints(args: argparse.Namespace) -> None:
    """``--only``: the ceilings and the named endpoints, for working on one of them."""
    only = frozenset(args.only.split(","))
    if unknown := only - set(ENDPOINTS):
        raise SystemExit(f"unknown endpoints: {sorted(unknown)}")
    if "pay" in only:
        only |= {"hold"}
    logs = ROOT / "bench" / "results" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        with bench_stores(namespace, logs) as (database_url, ceiling_app):
            ceilings = measure_ceilings(ceiling_app, args.seconds)
            endpoints = measure_endpoints(
                database_url,
                namespace,
                args.seconds,
                logs,
                only=only,
                profile=args.profile,
                ceiling=ceiling_app,
            )
    finally:
        asyncio.run(forget_namespace(namespace))
    for name, result in endpoints["results"].items():
        ceiling = endpoints["beside"][name]
        ratio = result.requests_per_second / ceiling.requests_per_second
        print(
            f"{name:>13}: {result.requests_per_second:8.1f} req/s, p50 {result.p50_ms:6.2f} ms,"
            f" p99 {result.p99_ms:6.2f} ms, {result.failures} failed;"
            f" / {ceiling.requests_per_second:.1f} = {ratio:.3f}"
        )
        print(" " * 15 + f"CPU shares: {result.as_dict()['cpu_shares']}")
    for name, result in ceilings.items():
        print(f"{'ceiling ' + name:>21}: {result.as_dict()['cpu_shares']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10, help="per endpoint")
    parser.add_argument("--line", type=int, default=1_000_000, help="tokens for the scale curve")
    parser.add_argument("--fans", type=int, default=10_000, help="fans in the on-sale")
    parser.add_argument("--skip-onsale", action="store_true")
    parser.add_argument(
        "--only",
        help=f"comma-separated endpoints of {','.join(ENDPOINTS)}: the ceilings and these "
        "alone, printed, not recorded (pay needs hold, so hold runs too)",
    )
    parser.add_argument(
        "--profile", type=Path, help="with --only: py-spy samples the server into this folder"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args()
    wrk.require_wrk()
    if args.only:
        only_endpoints(args)
        return
    logs = ROOT / "bench" / "results" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    report: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    try:
        with bench_stores(namespace, logs) as (database_url, ceiling_app):
            ceilings = measure_ceilings(ceiling_app, args.seconds)
            endpoints = measure_endpoints(
                database_url, namespace, args.seconds, logs, ceiling=ceiling_app
            )
            scale = measure_scale(database_url, namespace, logs, args.line)
    finally:
        asyncio.run(forget_namespace(namespace))
    onsale: dict[str, Any] | None = None
    if not args.skip_onsale:
        from bench.onsale import run_onsale

        log(f"on-sale: {args.fans:,} fans")
        onsale = asyncio.run(run_onsale(fans=args.fans))
    e = endpoints["results"]
    beside = endpoints["beside"]

    def vs_ceiling(name: str) -> float:
        return e[name].requests_per_second / beside[name].requests_per_second

    ratios = {
        "queue_status_vs_redis": vs_ceiling("queue_status"),
        "queue_issue_vs_redis": vs_ceiling("queue_issue"),
        "hold_vs_pg_write": vs_ceiling("hold"),
        "pay_vs_pg_write": vs_ceiling("pay"),
        "seats_vs_ping": vs_ceiling("seats"),
        "position_1m_vs_1k_latency": scale["at_1m"].p50_ms / scale["at_1k"].p50_ms,
    }
    report |= {
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "redis_bytes_per_waiting_user": round(scale["bytes_per_token"], 1),
        "ceilings": {k: v.as_dict() for k, v in ceilings.items()},
        "endpoints": {k: v.as_dict() for k, v in e.items()},
        "ceilings_beside": {
            k: {"ceiling": CEILING_OF[k], **v.as_dict()} for k, v in beside.items()
        },
        "endpoint_data": {k: v for k, v in endpoints.items() if k not in ("results", "beside")},
        "scale": {
            "line": scale["line"],
            "poll_1k": scale["at_1k"].as_dict(),
            "poll_1m": scale["at_1m"].as_dict(),
        },
        "onsale": onsale,
        "targets": {k: {"target": f"{op} {v}"} for k, (op, v) in TARGETS.items()},
        "seconds": round(time.monotonic() - started, 1),
    }
    for key, (op, bound) in TARGETS.items():
        value = (
            report["redis_bytes_per_waiting_user"]
            if key == "redis_bytes_per_waiting_user"
            else report["ratios"][key]
        )
        report["targets"][key] |= {
            "value": value,
            "met": value >= bound if op == ">=" else value <= bound,
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    from bench.markdown import append_table

    append_table(ROOT / "docs" / "benchmarks.md", report)
    log(f"done in {report['seconds']} s: {args.out}")
    print(
        json.dumps(
            report["ratios"]
            | {"redis_bytes_per_waiting_user": report["redis_bytes_per_waiting_user"]},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
