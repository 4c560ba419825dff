"""The server processes a wrk run drives: the ``concert`` command found, free ports
taken, servers started, awaited, sampled by py-spy and stopped."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bench import log

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
WORKERS = 2
"""Worker processes per server, the service's and the ceilings' alike."""


def concert_executable() -> str:
    """The ``concert`` command beside this Python, else the worktree's, else on PATH."""
    for candidate in (Path(sys.executable).parent / "concert", ROOT / ".venv" / "bin" / "concert"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("concert")
    if found is None:
        raise RuntimeError("the `concert` command is not installed")
    return found


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on ``HOST`` now (all held open until all are found)."""
    sockets = []
    try:
        for _ in range(count):
            probe = socket.socket()
            probe.bind((HOST, 0))
            sockets.append(probe)
        return [int(probe.getsockname()[1]) for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


class Server:
    """A server process and its workers, in a process group of their own."""

    def __init__(self, command: list[str], env: dict[str, str], port: int, log_path: Path):
        self.port = port
        self.base = f"http://{HOST}:{port}"
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_until(self, path: str, seconds: float = 60) -> None:
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

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._log.close()


def uvicorn_command(app: str, port: int, *, factory: bool = True) -> list[str]:
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port)]
    command += ["--workers", str(WORKERS), "--no-access-log", "--log-level", "warning"]
    return command + (["--factory"] if factory else [])


def serve(env: dict[str, str], logs: Path, name: str) -> Server:
    """``concert serve`` as the bench serves it, answering ``/health``; its log in ``logs``."""
    port = free_ports(1)[0]
    command = [concert_executable(), "serve", "--port", str(port), "--workers", str(WORKERS)]
    server = Server([*command, "--no-access-log"], env, port, logs / f"{name}.log")
    server.wait_until("/health")
    return server


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
