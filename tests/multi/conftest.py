"""Several `concert serve` processes sharing one PostgreSQL database and one Redis: the
scaled shape.

``start_cluster(**settings)`` empties the run's database, seeds one concert with one
date of 50 seats, and starts three servers on free ports with the background loops
on, the waiting room and idempotency keys in a Redis key namespace of the test's own
(``redis_url=None`` keeps them in PostgreSQL). Every process is stopped and the
namespace deleted when the test ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from attrs import frozen
from redis.exceptions import RedisError

from integration.conftest import CONCERT, free_port, wait_until_up
from services import REDIS_URL, empty_postgres, forget_namespace, run_aside

INSTANCES = 3


@frozen
class Cluster:
    urls: list[str]
    """Each instance's API base, ``http://127.0.0.1:PORT/api/v1``."""
    database_url: str
    redis_url: str | None
    redis_namespace: str
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]]

    def api(self, i: int) -> str:
        return self.urls[i % len(self.urls)]

    def root(self, i: int) -> str:
        return self.api(i).removesuffix("/api/v1")


async def _empty(url: str) -> None:
    async for _ in empty_postgres(url):
        pass


async def _forget(redis_url: str, namespace: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        await forget_namespace(client, namespace)
    finally:
        await client.aclose()


@pytest.fixture
def start_cluster(postgres_url: str, tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    processes: list[subprocess.Popen[bytes]] = []
    namespaces: list[tuple[str, str]] = []

    def start(*, redis_url: str | None = REDIS_URL, **settings: str) -> Cluster:
        run_aside(_empty(postgres_url))
        namespace = f"test-{uuid.uuid4().hex}"
        env = {
            **os.environ,
            "CONCERT_DATABASE_URL": postgres_url,
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            "CONCERT_RATE_LIMIT_JOINS_PER_MINUTE": "0",  # tests of the limits set their own
            **{f"CONCERT_{k.upper()}": v for k, v in settings.items()},
        }
        env.pop("CONCERT_REDIS_URL", None)
        if redis_url is not None:
            env |= {"CONCERT_REDIS_URL": redis_url, "CONCERT_REDIS_NAMESPACE": namespace}
            namespaces.append((redis_url, namespace))
        subprocess.run(
            [*CONCERT, "seed", "--concerts", "1", "--dates", "1"],
            env=env,
            check=True,
            capture_output=True,
        )
        bases, started = [], []
        for _ in range(INSTANCES):
            port = free_port()
            log = (tmp_path / f"instance-{len(processes)}.log").open("wb")
            process = subprocess.Popen(
                [*CONCERT, "serve", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            processes.append(process)
            started.append(process)
            bases.append(f"http://127.0.0.1:{port}")
        for base, process in zip(bases, started, strict=True):
            wait_until_up(base, process)
        return Cluster(
            [f"{b}/api/v1" for b in bases], postgres_url, redis_url, namespace, env, started
        )

    yield start
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for redis_url, namespace in namespaces:
        # A private Redis a fault test started is gone with its test.
        with contextlib.suppress(OSError, RedisError):
            run_aside(_forget(redis_url, namespace))
    logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("instance-*.log"))
    assert "Traceback" not in logs, logs[-5000:]
