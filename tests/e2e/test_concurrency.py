"""Many fans at once through the app: one seat is held by exactly one of them."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

from concert_core import Policy
from e2e.helpers import API, OpenApi

FANS = 100


async def test_a_hundred_fans_holding_one_seat_at_once_get_one_hold(open_api: OpenApi) -> None:
    policy = Policy(active_capacity=FANS, hold_ttl=dt.timedelta(seconds=60))
    async with open_api(policy) as api:
        concert = await api.schedule()
        cid = concert.concert_id
        fans = await asyncio.gather(*(api.waiting_fan(cid) for _ in range(FANS)))
        await api.service.admit_waiting(cid)

        replies = await asyncio.gather(*(api.hold(fan, cid, 17) for fan in fans))

        assert Counter(r.status_code for r in replies) == {201: 1, 409: FANS - 1}
        assert {r.json()["code"] for r in replies if r.status_code == 409} == {"SEAT_UNAVAILABLE"}
        winner, won = next(
            (f, r) for f, r in zip(fans, replies, strict=True) if r.status_code == 201
        )
        seats = await api.seats(winner, cid)
        assert seats[17] == "HELD"
        assert list(seats.values()).count("AVAILABLE") == 49
        shown = await api.client.get(
            f"{API}/reservations/{won.json()['reservation_id']}", headers=winner.auth
        )
        assert shown.json()["status"] == "HELD"
