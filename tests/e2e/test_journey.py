"""A whole fan journey over HTTP, as docs/contract.md §1 tells it."""

from __future__ import annotations

from concert_core.domain import Concert
from e2e.helpers import API, DAY, Api, Fan


async def test_a_fan_goes_from_the_waiting_room_to_a_sold_seat(api: Api, concert: Concert) -> None:
    cid = concert.concert_id

    # A queue token: WAITING, first in line, told when to poll again.
    entered = await api.enter(cid)
    assert entered.status_code == 201
    ticket = entered.json()
    assert ticket["status"] == "WAITING"
    assert ticket["position"] == 1
    assert entered.headers["Retry-After"] == str(ticket["poll_after_seconds"])
    fan = Fan(ticket["user_id"], ticket["token"])

    waiting = await api.status(fan)
    assert waiting.json()["status"] == "WAITING"
    assert "Retry-After" in waiting.headers

    # Admission lets the fan in.
    await api.service.admit_waiting(cid)
    active = await api.status(fan)
    assert active.status_code == 200
    assert active.json()["status"] == "ACTIVE"
    assert active.json()["active_until"].endswith("Z")
    assert "Retry-After" not in active.headers

    # Dates, seats, a hold.
    dates = await api.client.get(f"{API}/concerts/{cid}/dates", headers=fan.auth)
    assert dates.status_code == 200
    assert [d["date"] for d in dates.json()] == ["2026-12-24", "2026-12-25"]
    assert all(d["available_seats"] == 50 for d in dates.json())
    seats = await api.seats(fan, cid)
    assert len(seats) == 50
    assert set(seats.values()) == {"AVAILABLE"}

    held = await api.hold(fan, cid, 12)
    assert held.status_code == 201
    reservation = held.json()
    assert reservation["status"] == "HELD"
    assert reservation["date"] == DAY
    price = reservation["price"]
    assert isinstance(price, int)

    # Money in, money out.
    charged = await api.charge(fan.user_id, price + 5_000)
    assert charged.status_code == 200
    assert charged.json() == {"user_id": fan.user_id, "balance": price + 5_000}

    paid = await api.pay(fan, [reservation["reservation_id"]])
    assert paid.status_code == 201
    receipt = paid.json()
    assert receipt["reservation_ids"] == [reservation["reservation_id"]]
    assert receipt["amount"] == price
    assert receipt["balance"] == 5_000

    # The turn is over: the token is EXPIRED, the seat SOLD, the purchase on record.
    after = await api.status(fan)
    assert after.json()["status"] == "EXPIRED"
    mine = await api.client.get(
        f"{API}/reservations/{reservation['reservation_id']}", headers=fan.auth
    )
    assert mine.json()["status"] == "CONFIRMED"
    assert mine.json()["held_until"] is None

    other = await api.active_fan(cid)
    assert (await api.seats(other, cid))[12] == "SOLD"
    history = await api.client.get(f"{API}/users/{fan.user_id}/payments")
    assert [p["payment_id"] for p in history.json()] == [receipt["payment_id"]]
    assert await api.balance(fan.user_id) == 5_000
