"""The fans: each one arrives, waits its turn in the line, and buys one seat."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from typing import Any

from bench.onsale.client import API, Client, FanGaveUp, problem_code
from bench.onsale.prequeue import PrequeueRecord

RAMP_SECONDS = 5.0
"""Fans arrive evenly over this many seconds."""


class Crowd:
    """The fans: each one enters, waits its turn, and buys one seat."""

    def __init__(
        self,
        client: Client,
        concert_id: int,
        fans: int,
        ramp: float,
        prequeue: PrequeueRecord | None = None,
    ) -> None:
        self.client = client
        self.prequeue = prequeue
        self.concert_id = concert_id
        self.fans = fans
        self.ramp = ramp
        self.outcomes: Counter[str] = Counter()
        self.re_entries = 0
        self.seat_conflicts = 0

    async def fan(self, n: int) -> None:
        try:
            await asyncio.sleep(n * self.ramp / max(self.fans, 1))
        except asyncio.CancelledError:
            self.outcomes["not_arrived"] += 1
            raise
        user = str(uuid.uuid4())
        try:
            while True:
                token = await self._wait_until_active(n, user)
                outcome = await self._buy(user, token)
                if outcome != "requeue":
                    self.outcomes[outcome] += 1
                    return
                self.re_entries += 1
        except FanGaveUp:
            self.outcomes["gave_up"] += 1
        except asyncio.CancelledError:
            self.outcomes["stopped_at_end"] += 1
            raise

    async def _wait_until_active(self, n: int, user: str) -> str:
        c = self.client
        while True:
            status, place, retry_after = await c.call(
                "issue",
                "POST",
                f"{API}/queue/tokens",
                body={"user_id": user, "concert_id": self.concert_id},
            )
            if status not in (200, 201):
                c.note("issue", status, place)
                raise FanGaveUp("issue")
            token: str = place["token"]
            if self.prequeue is not None:
                self.prequeue.joined(n, place)
            while place["status"] == "WAITING":
                await asyncio.sleep(max(place["poll_after_seconds"], retry_after or 0))
                status, place, retry_after = await c.call(
                    "status", "GET", f"{API}/queue/status", token=token
                )
                if status != 200:
                    c.note("status", status, place)
                    raise FanGaveUp("status")
                if self.prequeue is not None:
                    self.prequeue.saw(n, place)
            if place["status"] == "ACTIVE":
                return token
            self.re_entries += 1  # EXPIRED: enter again, at the back

    async def _buy(self, user: str, token: str) -> str:
        c = self.client
        concert = self.concert_id
        while True:
            status, dates, _ = await c.call(
                "dates", "GET", f"{API}/concerts/{concert}/dates", token=token
            )
            if status == 403:
                return "requeue"
            if status != 200:
                c.note("dates", status, dates)
                raise FanGaveUp("dates")
            open_dates = [d["date"] for d in dates if d["available_seats"] > 0]
            if not open_dates:
                await self._leave(token)
                return "left_no_seats"
            date = random.choice(open_dates)
            status, seat_map, _ = await c.call(
                "seats",
                "GET",
                f"{API}/concerts/{concert}/dates/{date}/seats",
                token=token,
                params={"available": "true"},
            )
            if status == 403:
                return "requeue"
            if status != 200:
                c.note("seats", status, seat_map)
                raise FanGaveUp("seats")
            seats = [s for s in seat_map["seats"] if s["status"] == "AVAILABLE"]
            random.shuffle(seats)
            held = None
            for seat in seats:
                status, reply, _ = await c.call(
                    "hold",
                    "POST",
                    f"{API}/reservations",
                    token=token,
                    body={"concert_id": concert, "date": date, "seat_no": seat["seat_no"]},
                )
                if status in (200, 201):
                    held = reply
                    break
                if status == 409 and problem_code(reply) == "SEAT_UNAVAILABLE":
                    self.seat_conflicts += 1
                    continue
                if status == 403 and problem_code(reply) == "TOKEN_NOT_ACTIVE":
                    return "requeue"
                c.note("hold", status, reply)
                raise FanGaveUp("hold")
            if held is not None:
                return await self._pay(user, token, held)

    async def _pay(self, user: str, token: str, held: dict[str, Any]) -> str:
        charge = f"{API}/users/{user}/balance/charge"
        status, reply = await self._keyed("charge", charge, {"amount": held["price"]})
        if status != 200:
            self.client.note("charge", status, reply)
            await self._give_back(token, held)
            return "charge_failed"
        body = {"reservation_ids": [held["reservation_id"]]}
        status, reply = await self._keyed("pay", f"{API}/payments", body, token=token)
        if status not in (200, 201):
            self.client.note("pay", status, reply)
            await self._give_back(token, held)
            return "pay_failed"
        return "bought"

    async def _keyed(
        self, endpoint: str, path: str, body: Any, *, token: str | None = None
    ) -> tuple[int, Any]:
        """POST with one Idempotency-Key, asked again while its first run is in progress."""
        key = str(uuid.uuid4())
        while True:
            status, reply, _ = await self.client.call(
                endpoint, "POST", path, token=token, body=body, key=key
            )
            if status == 409 and problem_code(reply) == "IDEMPOTENCY_IN_PROGRESS":
                await asyncio.sleep(0.1)
                continue
            return status, reply

    async def _give_back(self, token: str, held: dict[str, Any]) -> None:
        """A payment that failed: release the hold (so the seat can still sell) and leave."""
        rid = held["reservation_id"]
        status, reply, _ = await self.client.call(
            "release", "DELETE", f"{API}/reservations/{rid}", token=token
        )
        if status != 204:
            self.client.note("release", status, reply)
        await self._leave(token)

    async def _leave(self, token: str) -> None:
        status, reply, _ = await self.client.call(
            "leave", "DELETE", f"{API}/queue/tokens/me", token=token
        )
        if status != 204:
            self.client.note("leave", status, reply)
