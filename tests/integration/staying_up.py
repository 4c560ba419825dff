"""A real fan's join and poll, measured while 20,000 connections from another address
never finish a request (docs/contract.md §9): the check the embedded and the scaled
shapes share."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from attrs import frozen

SLOW_CLIENTS = Path(__file__).with_name("slow_clients.py")
ATTACKING_ADDRESS = "127.0.0.2"
"""Linux routes 127/8 to the loopback device: the server sees this address, and the fan
on 127.0.0.1 is another client."""
CONNECTIONS = 20_000
PROCESSES = 4
"""The open-file limit is 20,000 a process here: the connections are split."""
ATTACK_SECONDS = 12.0
FAN_SECONDS = 9.0


@frozen
class Outcome:
    fan_replies: list[tuple[str, int, float]]
    """Every request the fan made: (what, status, seconds to the reply)."""
    attackers: list[dict[str, object]]

    def total(self, field: str) -> int:
        return sum(int(a[field]) for a in self.attackers)

    def lifetimes(self) -> list[float]:
        return [t for a in self.attackers for t in a["lifetimes"]]

    def still_open_older_than(self, seconds: float) -> int:
        return sum(int(a["still_open_older_than"][str(seconds)]) for a in self.attackers)

    def most_held_at_once(self) -> int:
        """The most connections the server kept (not closed at once) open at one instant."""
        edges = sorted(
            (instant, step)
            for a in self.attackers
            for opened, closed in a["held"]
            for instant, step in ((opened, 1), (closed, -1))
        )
        most = current = 0
        for _, step in edges:
            current += step
            most = max(most, current)
        return most


def fan_under_attack(api: str, port: int, concert_id: int = 1) -> Outcome:
    """Start the slow clients against ``port``, and while they connect and wait, have a
    fan on 127.0.0.1 join and poll through ``api`` again and again, a fresh connection
    for each request (a new connection is what the exhausted server refused)."""
    attackers = [
        subprocess.Popen(
            [
                sys.executable,
                str(SLOW_CLIENTS),
                "127.0.0.1",
                str(port),
                str(CONNECTIONS // PROCESSES),
                str(ATTACK_SECONDS),
                ATTACKING_ADDRESS,
            ],
            stdout=subprocess.PIPE,
        )
        for _ in range(PROCESSES)
    ]
    replies: list[tuple[str, int, float]] = []
    try:
        time.sleep(0.3)  # the flood under way
        end = time.monotonic() + FAN_SECONDS
        while time.monotonic() < end:
            user = str(uuid.uuid4())
            started = time.monotonic()
            joined = httpx.post(
                f"{api}/queue/tokens", json={"user_id": user, "concert_id": concert_id}, timeout=10
            )
            replies.append(("join", joined.status_code, time.monotonic() - started))
            if joined.status_code in (200, 201):
                token = joined.json()["token"]
                started = time.monotonic()
                polled = httpx.get(
                    f"{api}/queue/status", headers={"Authorization": f"Bearer {token}"}, timeout=10
                )
                replies.append(("poll", polled.status_code, time.monotonic() - started))
            time.sleep(0.05)
    finally:
        results = []
        for attacker in attackers:
            out, _ = attacker.communicate(timeout=ATTACK_SECONDS + 30)
            results.append(json.loads(out))
    return Outcome(replies, results)
