"""Several `concert serve` processes sharing one PostgreSQL database: the scaled shape.

``start_cluster(**settings)`` empties the run's database, seeds one concert with one
date of 50 seats, and starts three servers on free ports with the background loops
on; every process is stopped when the test ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from attrs import frozen

from integration.conftest import CONCERT, free_port, wait_until_up
from services import empty_postgres, run_aside

INSTANCES = 3


@frozen
class Cluster:
    urls: list[str]
    """Each instance's API base, ``http://127.0.0.1:PORT/api/v1``."""
    database_url: str
    env: dict[str, str]

    def api(self, i: int) -> str:
        return self.urls[i % len(self.urls)]


async def _empty(url: str) -> None:
    async for _ in empty_postgres(url):
        pass


@pytest.fixture
def start_cluster(postgres_url: str, tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(**settings: str) -> Cluster:
        run_aside(_empty(postgres_url))
        env = {
            **os.environ,
            "CONCERT_DATABASE_URL": postgres_url,
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            **{f"CONCERT_{k.upper()}": v for k, v in settings.items()},
        }
        subprocess.run(
            [*CONCERT, "seed", "--concerts", "1", "--dates", "1"],
            env=env,
            check=True,
            capture_output=True,
        )
        bases = []
        for n in range(INSTANCES):
            port = free_port()
            log = (tmp_path / f"instance-{n}.log").open("wb")
            processes.append(
                subprocess.Popen(
                    [*CONCERT, "serve", "--port", str(port)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            bases.append(f"http://127.0.0.1:{port}")
        for base, process in zip(bases, processes[-INSTANCES:], strict=True):
            wait_until_up(base, process)
        return Cluster([f"{b}/api/v1" for b in bases], postgres_url, env)

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
    logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("instance-*.log"))
    assert "Traceback" not in logs, logs[-5000:]
