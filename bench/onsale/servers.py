"""The on-sale's processes: set-up commands run to completion, the ``concert serve``
instances started, awaited, measured and stopped, each in a process group of its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import aiohttp

from bench.cpu import group_cpu_seconds, group_members
from bench.servers import HOST, free_ports


class Instances:
    """The ``concert serve`` processes of one on-sale, their logs in ``workdir``."""

    def __init__(self, concert: str, env: dict[str, str], workdir: Path) -> None:
        self._concert = concert
        self._env = env
        self._workdir = workdir
        self.processes: list[asyncio.subprocess.Process] = []
        self.logs: list[Path] = []
        self.bases: list[str] = []
        self.access_log = True
        """Whether they log every request (a ``concert serve`` without ``--no-access-log``)."""

    async def start(self, count: int, remaining: Callable[[], float]) -> None:
        """Start ``count`` instances and wait until each answers ``/health`` (each wait
        at most a minute, or what ``remaining()`` leaves)."""
        options = await _serve_options(self._concert, self._env, self._workdir)
        self.access_log = not options
        ports = free_ports(count)
        self.bases = [f"http://{HOST}:{port}" for port in ports]
        for i, port in enumerate(ports):
            log = self._workdir / f"server-{i}.log"
            self.logs.append(log)
            with log.open("ab") as out:
                self.processes.append(
                    await asyncio.create_subprocess_exec(
                        self._concert,
                        "serve",
                        "--host",
                        HOST,
                        "--port",
                        str(port),
                        *options,
                        env=self._env,
                        cwd=self._workdir,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as probe:
            for base, proc, log in zip(self.bases, self.processes, self.logs, strict=True):
                await _wait_healthy(probe, base, proc, log, min(60.0, remaining()))

    def cpu_seconds(self) -> float:
        """CPU seconds so far of the instances' process groups (servers and workers)."""
        return sum(group_cpu_seconds(p.pid) for p in self.processes)

    def log_errors(self) -> int:
        return _log_problems(self.logs)

    async def stop(self) -> None:
        await asyncio.gather(*(stop(proc) for proc in self.processes), return_exceptions=True)


async def run_command(
    args: list[str], env: dict[str, str], log: Path, cwd: Path, seconds: float
) -> None:
    """Run a set-up command to completion within ``seconds``; its output to ``log``."""
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        code = await asyncio.wait_for(proc.wait(), seconds)
    except TimeoutError:
        await stop(proc)
        raise RuntimeError(f"{' '.join(args[1:])} took more than {seconds:.0f} s") from None
    if code != 0:
        raise RuntimeError(f"{' '.join(args[1:])} failed ({code}): {_tail(log)}")


async def stop(proc: asyncio.subprocess.Process, grace: float = 12.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), grace)
    # Whatever is left in the group (the leader if it ignored SIGTERM, or workers). A
    # group id stays taken while any member lives, so a live group is still ours.
    if group_members(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    if proc.returncode is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5.0)


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
        await stop(proc)
        return []
    return ["--no-access-log"] if b"--no-access-log" in out else []


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


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def _log_problems(paths: Iterable[Path]) -> int:
    """Lines in the server logs that are errors or tracebacks (not access-log lines)."""
    count = 0
    for path in paths:
        with contextlib.suppress(OSError), path.open(errors="replace") as lines:
            for line in lines:
                if line.startswith(("ERROR", "CRITICAL", "Traceback")):
                    count += 1
    return count
