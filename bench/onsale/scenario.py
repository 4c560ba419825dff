"""The on-sale scenario end to end: its database and servers set up, the crowd let
loose until every seat is sold, the audit, and everything torn down again."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]

from bench import stores
from bench.onsale.audit import audit, verdicts
from bench.onsale.client import Client
from bench.onsale.cpu import OtherCpu
from bench.onsale.crowd import RAMP_SECONDS, Crowd
from bench.onsale.prequeue import (
    OPENS_AFTER_RAMP_SHARE,
    PAUSED_AFTER_OPENING,
    PrequeueRecord,
    Sale,
)
from bench.onsale.report import client_figures, headline_first, percentiles, server_latency
from bench.onsale.servers import Instances, run_command
from bench.servers import concert_executable

SEATS_PER_DATE = 50
CONNECTIONS = 300
"""The client's connection pool, shared by all instances."""
REQUEST_TIMEOUT = 60.0
SOLD_POLL_SECONDS = 0.25
TEARDOWN_RESERVE = 30.0
"""Seconds of ``time_limit`` kept for the audit and tear-down."""


async def run_onsale(
    *,
    fans: int = 10_000,
    instances: int = 2,
    capacity: int = 200,
    dates: int = 10,
    time_limit: float = 420.0,
) -> dict[str, Any]:
    """Run the on-sale scenario end to end and return its report (see the package doc)."""
    if min(fans, instances, capacity, dates) < 1:
        raise ValueError("fans, instances, capacity and dates must be positive")
    wall_start = time.monotonic()
    deadline = wall_start + time_limit
    tag = secrets.token_hex(6)
    admin_key = secrets.token_hex(32)
    db = f"bench_onsale_{tag}"
    namespace = f"bench_onsale_{tag}"
    seats = dates * SEATS_PER_DATE
    concert = concert_executable()
    workdir = Path(tempfile.mkdtemp(prefix=f"{db}_"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONCERT_")}
    env.update(
        CONCERT_DATABASE_URL=stores.service_url(db),
        CONCERT_REDIS_URL=stores.REDIS_URL,
        CONCERT_REDIS_NAMESPACE=namespace,
        CONCERT_TOKEN_SECRET=secrets.token_hex(32),
        CONCERT_ACTIVE_CAPACITY=str(capacity),
        CONCERT_ADMISSION_INTERVAL_SECONDS="1",
        CONCERT_ADMIN_KEY=admin_key,
        CONCERT_RATE_LIMIT_JOINS_PER_MINUTE="0",  # the on-sale's fans join from one address
        PYTHONUNBUFFERED="1",
    )
    dsn = stores.asyncpg_dsn(stores.service_url(db))
    servers = Instances(concert, env, workdir)
    db_created = False
    keep_logs = False

    def remaining(reserve: float = TEARDOWN_RESERVE) -> float:
        left = deadline - time.monotonic() - reserve
        if left <= 0:
            raise TimeoutError(f"on-sale scenario: time limit of {time_limit:.0f} s reached")
        return left

    try:
        db_created = True  # dropped IF EXISTS at the end, however far this got
        await stores.create_database(db)
        setup_log = workdir / "setup.log"
        await run_command(
            [concert, "db", "upgrade"], env, setup_log, workdir, min(120.0, remaining())
        )
        await run_command(
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
        # A pre-queue from now, its opening far ahead (set to a few seconds into the
        # fans' arrival once they come), paused: the servers cannot open it meanwhile.
        now = dt.datetime.now(dt.UTC)
        await run_command(
            [
                concert, "sale", "set", str(concert_id),
                "--prequeue-opens-at", now.isoformat(),
                "--opens-at", (now + dt.timedelta(hours=1)).isoformat(),
                "--pause",
            ],
            env,
            setup_log,
            workdir,
            min(60.0, remaining()),
        )  # fmt: skip

        await servers.start(instances, remaining)
        report = await _drive(servers, dsn, concert_id, fans, seats, remaining(), admin_key)
        report["audit"] = counts = await asyncio.wait_for(audit(dsn), remaining(5.0))
        report["server_log_errors"] = servers.log_errors()
        report["server_access_log"] = servers.access_log
        keep_logs = report["server_log_errors"] > 0
    except Exception:
        keep_logs = True  # a failure: its logs are the evidence (not so for a cancel)
        raise
    finally:
        await servers.stop()
        with contextlib.suppress(Exception):
            await stores.forget_namespace(namespace)
        if db_created:
            with contextlib.suppress(Exception):
                await stores.drop_database(db)
        if not keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"bench.onsale: server logs kept in {workdir}", file=sys.stderr)

    result: dict[str, Any] = {
        "users": fans,
        "instances": instances,
        "capacity": capacity,
        "seats": seats,
        **verdicts(counts),
        "seconds_to_sell_out": report.pop("seconds_to_sell_out"),
    }
    result.update(report)
    sold = result["sold"]
    result["cpu_seconds_per_ticket"] = (
        round(result["server_cpu_seconds"] / sold, 4) if sold else None
    )
    result["wall_seconds"] = round(time.monotonic() - wall_start, 2)
    if keep_logs:
        result["server_logs"] = str(workdir)
    return headline_first(result)


async def _drive(
    servers: Instances,
    dsn: str,
    concert_id: int,
    fans: int,
    seats: int,
    budget: float,
    admin_key: str,
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
        client = Client(session, servers.bases)
        record = PrequeueRecord()
        sale = Sale(session, servers.bases[0], concert_id, admin_key)
        opens_at = await sale.schedule(RAMP_SECONDS * OPENS_AFTER_RAMP_SHARE)
        crowd = Crowd(client, concert_id, fans, RAMP_SECONDS, record)
        loop_lags: list[float] = []
        others = OtherCpu(dsn)
        await others.start()
        cpu_before = servers.cpu_seconds()
        client_cpu_before = time.process_time()
        started = time.perf_counter()
        watcher = asyncio.create_task(_watch_sell_out(dsn, seats, loop_lags))
        resumer = asyncio.create_task(sale.resume_after(opens_at + PAUSED_AFTER_OPENING, record))
        tasks = [asyncio.create_task(crowd.fan(n)) for n in range(fans)]
        everyone = asyncio.gather(*tasks, return_exceptions=True)
        either: set[asyncio.Future[Any]] = {watcher, everyone}
        try:
            await asyncio.wait(either, timeout=budget, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(everyone, return_exceptions=True)
            if not watcher.done():
                watcher.cancel()
            if not resumer.done():
                resumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(resumer, return_exceptions=True)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(watcher, return_exceptions=True)
        ended = time.perf_counter()
        server_cpu = servers.cpu_seconds() - cpu_before
        client_cpu = time.process_time() - client_cpu_before
        other_cpu = await others.stop()
        latency_in_servers = await server_latency(session, servers.bases)
    sold_at = watcher.result() if watcher.done() and not watcher.cancelled() else None
    return {
        "seconds_to_sell_out": round(sold_at - started, 3) if sold_at is not None else None,
        "sold_out": sold_at is not None,
        "scenario_seconds": round(ended - started, 3),
        "server_cpu_seconds": round(server_cpu, 2),
        "client_cpu_seconds": round(client_cpu, 2),
        "client_loop_lag_ms": percentiles(loop_lags),
        **other_cpu,
        **client_figures(client, crowd, latency_in_servers),
        "prequeue": record.report(),
    }


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
