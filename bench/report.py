"""A ``make bench`` run's record: its ratios checked against their targets, the machine
it ran on, ``bench/results/latest.json`` written and the docs' tables with it."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import markdown, wrk
from bench.endpoints import CEILING_OF, JOIN_PATH, JOIN_PLAIN
from bench.servers import ROOT, WORKERS
from concert_core import Policy
from concert_core.domain import TokenStatus
from concert_core.domain.queue import estimated_wait_seconds, poll_after_seconds

TARGETS = {
    "queue_status_vs_redis": (">=", 0.80),
    "queue_issue_vs_redis": (">=", 0.65),
    "hold_vs_pg_write": (">=", 0.50),
    "pay_vs_pg_write": (">=", 0.35),
    "seats_vs_pg_read": (">=", 0.60),
    "position_1m_vs_1k_latency": ("<=", 1.10),
    "redis_bytes_per_waiting_user": ("<=", 200),
    "waiting_fans_per_box": (">=", 500_000),
}
FIGURES_BESIDE_RATIOS = ("redis_bytes_per_waiting_user", "waiting_fans_per_box")
"""Targets on figures recorded at the top level of ``latest.json``, not in ``ratios``."""
LATEST_DOC = ROOT / "docs" / "benchmarks.md"
"""Its latest run's tables are rewritten by every run."""
HISTORY_DOC = ROOT / "docs" / "benchmarks-history.md"
"""Every run's tables are appended to it."""


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
        "wrk": f"-t2 -c{wrk.CONNECTIONS}",
        "server_workers": WORKERS,
    }


def figures(
    ceilings: dict[str, wrk.Result],
    endpoints: dict[str, Any],
    scale: dict[str, Any],
    onsale: dict[str, Any] | None,
) -> dict[str, Any]:
    """The run's figures as ``latest.json`` records them, each target checked."""
    measured: dict[str, wrk.Result] = endpoints["results"]
    beside: dict[str, wrk.Result] = endpoints["beside"]

    def vs_ceiling(name: str) -> float:
        return measured[name].requests_per_second / beside[name].requests_per_second

    ratios = {
        "queue_status_vs_redis": vs_ceiling("queue_status"),
        "queue_issue_vs_redis": vs_ceiling("queue_issue"),
        "hold_vs_pg_write": vs_ceiling("hold"),
        "pay_vs_pg_write": vs_ceiling("pay"),
        "seats_vs_pg_read": vs_ceiling("seats"),
        "seats_vs_ping": measured["seats"].requests_per_second
        / ceilings["ping"].requests_per_second,
        "queue_issue_plain_vs_redis": vs_ceiling(JOIN_PLAIN),
        "position_1m_vs_1k_latency": scale["at_1m"].p50_ms / scale["at_1k"].p50_ms,
    }
    report: dict[str, Any] = {
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "redis_bytes_per_waiting_user": round(scale["bytes_per_token"], 1),
        "waiting_fans_per_box": waiting_fans_per_box(measured["queue_status"].requests_per_second),
        "waiting_fans_polls_per_second": round(measured["queue_status"].requests_per_second, 1),
        "ceilings": {k: v.as_dict() for k, v in ceilings.items()},
        "endpoints": {k: v.as_dict() for k, v in measured.items()},
        "join_path": join_path(measured, beside, endpoints["service_cpu_us"]),
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
        "targets": {k: {"target": f"{op} {v:,}"} for k, (op, v) in TARGETS.items()},
    }
    for key, (op, bound) in TARGETS.items():
        value = report[key] if key in FIGURES_BESIDE_RATIOS else report["ratios"][key]
        report["targets"][key] |= {
            "value": value,
            "met": value >= bound if op == ">=" else value <= bound,
        }
    return report


FASTEST_ADMISSIONS_PER_SECOND = (
    Policy().active_capacity / Policy().admission_interval.total_seconds()
)
"""The fastest a line moves under the default policy: a whole capacity admitted every
admission interval (100 a second). The hint follows the wait this rate predicts, the
shortest any position can be told, so the figure is a floor for the policy."""


def service_hint(position: int) -> int:
    """The seconds the service tells a fan waiting at ``position`` to wait before its
    next poll, with the service's default policy, in a line admitting as fast as that
    policy allows (``FASTEST_ADMISSIONS_PER_SECOND``): the view's own estimate and hint."""
    rate = FASTEST_ADMISSIONS_PER_SECOND
    policy = Policy()
    wait = estimated_wait_seconds(
        position, rate, active_ttl=policy.active_ttl, capacity=policy.active_capacity
    )
    return poll_after_seconds(
        TokenStatus.WAITING,
        position,
        wait,
        idle_timeout=policy.idle_timeout,
        admissions_per_second=rate,
    )


def waiting_fans_per_box(polls_per_second: float, hint: Callable[[int], int] = service_hint) -> int:
    """The most fans ``N`` that can wait at positions 1..N, each polling once every
    ``hint(position)`` seconds, with ``sum(1 / hint(p) for p in 1..N)`` polls per
    second at most ``polls_per_second``.

    ``hint`` must not decrease with the position (the service's grows with it, up to
    a cap): positions are taken a run of equal hints at a time, each run's end found
    by bisection, so a line of millions costs a few hundred calls of ``hint``."""
    left = polls_per_second
    position = 1
    while True:
        seconds = hint(position)
        affordable = math.floor(left * seconds + 1e-9)  # fans at this hint the polls left carry
        if affordable == 0:
            return position - 1
        last = position + affordable - 1
        if hint(last) == seconds:
            return last
        low, high = position, last  # hint(low) == seconds != hint(high)
        while high - low > 1:
            middle = (low + high) // 2
            if hint(middle) == seconds:
                low = middle
            else:
                high = middle
        left -= (low - position + 1) / seconds
        position = low + 1


def join_path(
    measured: dict[str, wrk.Result], beside: dict[str, wrk.Result], service_cpu_us: dict[str, int]
) -> dict[str, Any]:
    """What the join's guards add: the judged join's ratio to its ceiling beside the
    plain join's (``queue_issue_plain``), their relative change, and the service's CPU
    per join of each (left out unless both were measured)."""
    if JOIN_PLAIN not in measured:
        return {}
    plain = measured[JOIN_PLAIN]
    without = plain.requests_per_second / beside[JOIN_PLAIN].requests_per_second
    costs = {}
    for name, what in JOIN_PATH.items():
        if name not in measured:
            continue
        ratio = measured[name].requests_per_second / beside[name].requests_per_second
        costs[what] = {
            "endpoint": name,
            "ratio": round(ratio, 3),
            "ratio_without": round(without, 3),
            "change": round(ratio / without - 1, 3),
            "service_cpu_us": service_cpu_us[name],
            "service_cpu_us_without": service_cpu_us[JOIN_PLAIN],
        }
    return costs


def write(report: dict[str, Any], out: Path) -> None:
    """``out`` (``latest.json``), the latest tables of ``LATEST_DOC`` and a new entry of
    ``HISTORY_DOC``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    markdown.record_run(report, latest=LATEST_DOC, history=HISTORY_DOC)
