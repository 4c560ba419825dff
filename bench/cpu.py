"""CPU time of processes, read from ``/proc``: by process name, by process group, by
process id."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

CPU_GROUPS = {"redis-server": "redis", "postgres": "postgres", "wrk": "wrk"}
"""Processes whose CPU a run reports by name; any other busy process is ``other``
(the service's workers, unless something else shares the machine)."""


def _stat(entry: Path) -> tuple[str, list[str]] | None:
    """A process's name and its ``/proc/PID/stat`` fields from field 3 (state) on: the
    process group is then at index 2, utime, stime, cutime and cstime at 11 to 14."""
    try:
        stat = (entry / "stat").read_text()
    except OSError:
        return None
    return stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()


def _processes() -> list[tuple[str, list[str]]]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(entry)) is not None:
            found.append(stat)
    return found


def cpu_by_group() -> dict[str, float]:
    """CPU seconds (user + system) so far of every process, summed by group."""
    totals: dict[str, float] = {}
    for name, fields in _processes():
        group = CPU_GROUPS.get(name, "other")
        totals[group] = totals.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return totals


def group_members(pgid: int) -> list[list[str]]:
    """The stat fields (as ``_stat`` gives them) of every live process in a group."""
    return [fields for _, fields in _processes() if int(fields[2]) == pgid and fields[0] != "Z"]


def group_cpu_seconds(pgid: int) -> float:
    """CPU seconds (user + system, with reaped children) of every live process in a group."""
    ticks = sum(sum(int(f) for f in fields[11:15]) for fields in group_members(pgid))
    return ticks / CLOCK_TICKS


def pid_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of one process; 0 if it is gone."""
    stat = _stat(Path(f"/proc/{pid}"))
    if stat is None:
        return 0.0
    return sum(int(f) for f in stat[1][11:13]) / CLOCK_TICKS
