"""The CPU a join's guards add, in-process: the app driven through its ASGI callable
(no server, no sockets, 32 joins in flight), a new fan each join, on Redis and a
scratch SQLite catalogue, in four setups taken in turn: no guard, the per-address join
limit alone, the join challenge alone, both (the judged join of the service levels in
docs/benchmarks.md). Not a throughput figure (``make bench`` is); what the guards
cost beside the join itself, without wrk, uvicorn or the ceiling's drift in the way.

    PYTHONPATH=src:. .venv/bin/python -m bench.guard_cost [--joins 12000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop
from litestar import Litestar

from bench.proofs import solve
from bench.stores import REDIS_URL
from entrypoints.http import create_app
from entrypoints.settings import Settings

SETUPS = ("no guard", "limit", "challenge", "limit and challenge")
IN_FLIGHT = 32
ADMIN_KEY = "bench-guard-cost-operator-key-0123456789"
Call = Callable[[str, str, bytes], Awaitable[tuple[int, bytes]]]


def caller(app: Litestar) -> Call:
    async def call(method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        path, _, query = target.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [
                (b"host", b"bench"),
                (b"content-type", b"application/json"),
                (b"authorization", f"Bearer {ADMIN_KEY}".encode()),
            ],
            "client": ("127.0.0.1", 40000),
            "server": ("bench", 80),
            "state": {},
        }
        asked = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return asked.pop() if asked else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)  # type: ignore[arg-type]
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    return call


async def one_setup(database: Path, setup: str, joins: int) -> float:
    """The service's CPU per join, in microseconds, for ``setup``."""
    limited, challenged = setup in SETUPS[1::2], setup in SETUPS[2:]
    env = {
        "CONCERT_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "CONCERT_REDIS_URL": REDIS_URL,
        "CONCERT_REDIS_NAMESPACE": f"bench-guard-{uuid.uuid4().hex[:8]}",
        "CONCERT_RATE_LIMIT_JOINS_PER_MINUTE": "1000000" if limited else "0",
        "CONCERT_CHALLENGE_MAX_NUMBER": "1000",
        "CONCERT_CHALLENGE_TTL_SECONDS": "3600",
        "CONCERT_ADMIN_KEY": ADMIN_KEY,
    }
    app = create_app(Settings.from_env({**os.environ, **env}))
    call = caller(app)
    started: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    told: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await started.put({"type": "lifespan.startup"})
    lifespan = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    running = asyncio.create_task(app(lifespan, started.get, told.put))  # type: ignore[arg-type]
    assert (await told.get())["type"] == "lifespan.startup.complete"
    try:
        concert = {
            "title": "Guard cost",
            "venue": f"Hall {uuid.uuid4().hex}",
            "dates": ["2027-03-06"],
            "price": 1000,
            "sale": {"join_challenge": challenged},
        }
        status, body = await call("POST", "/api/v1/admin/concerts", json.dumps(concert).encode())
        assert status == 201, body
        concert_id = json.loads(body)["concert_id"]
        proofs = []
        if challenged:
            for _ in range(joins):
                _, body = await call("GET", f"/api/v1/queue/challenge?concert_id={concert_id}")
                proofs.append(solve(json.loads(body)))
        bodies = iter(
            json.dumps(
                {"user_id": str(uuid.uuid4()), "concert_id": concert_id}
                | ({"proof": proofs[i]} if challenged else {})
            ).encode()
            for i in range(joins)
        )

        async def joiner() -> None:
            for body in bodies:
                status, reply = await call("POST", "/api/v1/queue/tokens", body)
                assert status == 201, reply

        gc.collect()
        cpu = time.process_time()
        await asyncio.gather(*(joiner() for _ in range(IN_FLIGHT)))
        return (time.process_time() - cpu) / joins * 1e6
    finally:
        await started.put({"type": "lifespan.shutdown"})
        await running


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--joins", type=int, default=12_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "catalogue.sqlite"
        env = {**os.environ, "CONCERT_DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
        concert = Path(sys.executable).with_name("concert")
        subprocess.run([str(concert), "db", "upgrade"], env=env, check=True, capture_output=True)
        found: dict[str, list[float]] = {setup: [] for setup in SETUPS}
        for _ in range(args.rounds):
            for setup in SETUPS:  # in turn, so that the machine's drift falls on all
                found[setup].append(uvloop.run(one_setup(database, setup, args.joins)))
    plain = statistics.median(found[SETUPS[0]])
    for setup, each in found.items():
        median = statistics.median(each)
        runs = " / ".join(f"{value:.0f}" for value in each)
        print(f"{setup:>20}: {median:4.0f} µs of CPU per join (+{median - plain:3.0f}); {runs}")


if __name__ == "__main__":
    main()
