"""wrk runs: one endpoint at a fixed concurrency, its Lua script generated here.

Every script ends with the same ``done`` callback, which prints one line
``BENCH {json}``: requests, duration, errors, non-2xx replies and latency
percentiles. A script that needs per-request data (tokens, seats) reads it from a
file, one request's worth per line, the wrk threads taking the lines in turn
(``next_line``, from the top again after the last; ``take_line``, nil after the last,
for data good once, such as a join challenge's proof). wrk calls ``request`` once
before the run to check the script, so the first thread's first line goes unsent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from attrs import frozen

from bench.cpu import cpu_by_group

DONE = r"""
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean))
end
"""

LINES = r"""
local lines = {}
for line in io.lines("{path}") do lines[#lines + 1] = line end
local counter = 0
local threads = 0
setup = function(thread)
  thread:set("offset", threads)
  threads = threads + 1
end
init = function(args)
  counter = offset
  stride = {threads}
end
local function next_line()
  local i = counter % #lines + 1
  counter = counter + stride
  return lines[i]
end
local function take_line()
  local i = counter + 1
  counter = counter + stride
  return lines[i]
end
local function split(line)
  local fields = {}
  for field in string.gmatch(line, "[^ ]+") do fields[#fields + 1] = field end
  return fields
end
"""


CONNECTIONS = 64
"""Connections wrk keeps open, in every run of the bench."""


@frozen
class Result:
    endpoint: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    failures: int
    """Socket errors, timeouts and non-2xx replies."""
    client_cpu_seconds: float
    seconds: float
    cpu_shares: dict[str, float]
    """Each group's share of the machine's CPU during the run (1.0 = every core)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests_per_second": round(self.requests_per_second, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "requests": self.requests,
            "failures": self.failures,
            "client_cpu_seconds": round(self.client_cpu_seconds, 2),
            "client_cpu_share": round(
                self.client_cpu_seconds / self.seconds / (os.cpu_count() or 1), 3
            ),
            "cpu_shares": {k: round(v, 3) for k, v in sorted(self.cpu_shares.items())},
        }


def combined(results: list[Result]) -> Result:
    """Runs of one endpoint taken in turns, as one: rates and percentiles averaged,
    counts and CPU summed."""
    n = len(results)
    first = results[0]
    groups = {g for r in results for g in r.cpu_shares}
    return Result(
        endpoint=first.endpoint,
        requests_per_second=sum(r.requests_per_second for r in results) / n,
        p50_ms=sum(r.p50_ms for r in results) / n,
        p99_ms=sum(r.p99_ms for r in results) / n,
        requests=sum(r.requests for r in results),
        failures=sum(r.failures for r in results),
        client_cpu_seconds=sum(r.client_cpu_seconds for r in results),
        seconds=sum(r.seconds for r in results),
        cpu_shares={g: sum(r.cpu_shares.get(g, 0.0) for r in results) / n for g in groups},
    )


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: `apt-get install -y wrk` (make bench does it)")
    return found


def script(body: str, *, lines: list[str] | None = None, threads: int = 2) -> str:
    """A whole wrk script: ``body`` (which defines ``request``), with the lines helper
    when ``lines`` are given, and the report."""
    head = ""
    if lines is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
            handle.write("\n".join(lines) + "\n")
        head = LINES.replace("{path}", handle.name).replace("{threads}", str(threads))
    return head + body + DONE


def run(
    endpoint: str,
    url: str,
    lua: str,
    *,
    seconds: float = 10,
    connections: int = CONNECTIONS,
    threads: int = 2,
    successes_only: bool = False,
) -> Result:
    """Run wrk against ``url`` with the script ``lua``; its CPU time is the client's.
    ``successes_only``: the rate counts the 2xx replies alone (for a script whose data
    can run out, whose requests after that are refused and must not pass for work)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(lua)
    command = [
        require_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:.0f}s",
        "--timeout",
        "10s",
        "-s",
        handle.name,
        url,
    ]
    before, groups_before = os.times(), cpu_by_group()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    after, groups_after = os.times(), cpu_by_group()
    Path(handle.name).unlink()
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed for {endpoint}: {completed.stderr}")
    found = re.search(r"^BENCH (\{.*\})$", completed.stdout, flags=re.MULTILINE)
    if found is None:
        raise RuntimeError(f"wrk printed no report for {endpoint}: {completed.stdout}")
    report = json.loads(found.group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", completed.stdout)
    failures = sum(
        report[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")
    ) + (int(non_2xx.group(1)) if non_2xx else 0)
    seconds_run = report["duration_us"] / 1e6
    counted = report["requests"] - (failures if successes_only else 0)
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return Result(
        endpoint=endpoint,
        requests_per_second=counted / seconds_run,
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        requests=report["requests"],
        failures=failures,
        client_cpu_seconds=cpu,
        seconds=seconds_run,
        cpu_shares={
            group: (spent - groups_before.get(group, 0.0)) / seconds_run / (os.cpu_count() or 1)
            for group, spent in groups_after.items()
            if spent - groups_before.get(group, 0.0) > 0
        },
    )


POST_JSON = 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
"""A script's opening for JSON POSTs (its ``request`` sets the body)."""

BEARER_GET = (
    "request = function()\n"
    "  return wrk.format('GET', nil, {Authorization = 'Bearer ' .. next_line()})\n"
    "end\n"
)
"""GET the URL with each line in turn as the bearer token."""


def post_json(body: str) -> str:
    """A script POSTing the same JSON ``body`` every time."""
    return POST_JSON + f"wrk.body = {json.dumps(body)}\n"
