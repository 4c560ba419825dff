"""Every endpoint of docs/contract.md §4 on its success path, with its status and body."""

from __future__ import annotations

import uuid

import jwt

from concert_core.domain import Concert
from e2e.helpers import API, DAY, Api


def _claims(token: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def test_entering_again_returns_the_same_live_token_and_place(
    api: Api, concert: Concert
) -> None:
    ahead = await api.enter(concert.concert_id)
    user = str(uuid.uuid4())
    first = await api.enter(concert.concert_id, user)
    again = await api.enter(concert.concert_id, user)

    assert ahead.status_code == 201
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["position"] == first.json()["position"] == 2
    for claim in ("jti", "seq", "sub", "concert_id"):
        assert _claims(again.json()["token"])[claim] == _claims(first.json()["token"])[claim]
    assert set(first.json()) == {
        "token",
        "user_id",
        "concert_id",
        "status",
        "position",
        "estimated_wait_seconds",
        "poll_after_seconds",
        "active_until",
        "sale",
    }
    assert first.json()["sale"] == {"phase": "OPEN", "opens_at": None, "message": None}


async def test_status_reports_the_place_in_line_with_retry_after_while_waiting(
    api: Api, concert: Concert
) -> None:
    first = await api.waiting_fan(concert.concert_id)
    second = await api.waiting_fan(concert.concert_id)

    reply = await api.status(second)

    assert reply.status_code == 200
    body = reply.json()
    assert body["user_id"] == second.user_id
    assert body["concert_id"] == concert.concert_id
    assert body["status"] == "WAITING"
    assert body["position"] == 2
    assert body["estimated_wait_seconds"] > 0
    assert body["active_until"] is None
    assert reply.headers["Retry-After"] == str(body["poll_after_seconds"])
    assert "token" not in body
    assert (await api.status(first)).json()["position"] == 1


async def test_leaving_frees_the_place_for_the_next_in_line(api: Api, concert: Concert) -> None:
    cid = concert.concert_id
    first, second = await api.active_fan(cid), await api.active_fan(cid)
    third = await api.waiting_fan(cid)
    await api.service.admit_waiting(cid)
    assert (await api.status(third)).json()["status"] == "WAITING"  # capacity 2

    left = await api.client.delete(f"{API}/queue/tokens/me", headers=first.auth)
    await api.service.admit_waiting(cid)

    assert left.status_code == 204
    assert left.content == b""
    assert (await api.status(first)).json()["status"] == "EXPIRED"
    assert (await api.status(second)).json()["status"] == "ACTIVE"
    assert (await api.status(third)).json()["status"] == "ACTIVE"


async def test_concerts_are_listed_without_a_token(api: Api) -> None:
    one, two = await api.schedule(), await api.schedule()

    reply = await api.client.get(f"{API}/concerts")

    assert reply.status_code == 200
    assert reply.json() == [
        {
            "concert_id": c.concert_id,
            "title": c.title,
            "venue": c.venue,
            "phase": "OPEN",
            "opens_at": None,
        }
        for c in (one, two)
    ]


async def test_dates_list_those_with_an_available_seat_ascending(
    api: Api, concert: Concert
) -> None:
    fan = await api.active_fan(concert.concert_id)
    await api.held(fan, concert.concert_id, 1)

    reply = await api.client.get(f"{API}/concerts/{concert.concert_id}/dates", headers=fan.auth)

    assert reply.status_code == 200
    assert reply.json() == [
        {"date": "2026-12-24", "available_seats": 49},
        {"date": "2026-12-25", "available_seats": 50},
    ]


async def test_seats_list_all_fifty_or_only_the_available_ones(api: Api, concert: Concert) -> None:
    fan = await api.active_fan(concert.concert_id)
    await api.held(fan, concert.concert_id, 3)

    reply = await api.client.get(
        f"{API}/concerts/{concert.concert_id}/dates/{DAY}/seats", headers=fan.auth
    )
    available = await api.seats(fan, concert.concert_id, available=True)

    assert reply.status_code == 200
    assert reply.json()["date"] == DAY
    seats = reply.json()["seats"]
    assert [s["seat_no"] for s in seats] == list(range(1, 51))
    assert seats[2] == {"seat_no": 3, "status": "HELD", "price": 150_000}
    assert all(isinstance(s["price"], int) for s in seats)
    assert sorted(available) == [n for n in range(1, 51) if n != 3]
    assert set(available.values()) == {"AVAILABLE"}


async def test_holding_a_seat_is_201_and_asking_again_is_200_with_the_same_hold(
    api: Api, concert: Concert
) -> None:
    fan = await api.active_fan(concert.concert_id)

    first = await api.hold(fan, concert.concert_id, 7)
    again = await api.hold(fan, concert.concert_id, 7)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert first.json() == {
        "reservation_id": first.json()["reservation_id"],
        "concert_id": concert.concert_id,
        "date": DAY,
        "seat_no": 7,
        "price": 150_000,
        "status": "HELD",
        "held_until": "2026-01-01T12:01:00Z",
    }


async def test_a_reservation_is_shown_to_its_owner(api: Api, concert: Concert) -> None:
    fan = await api.active_fan(concert.concert_id)
    held = (await api.hold(fan, concert.concert_id, 9)).json()

    reply = await api.client.get(f"{API}/reservations/{held['reservation_id']}", headers=fan.auth)

    assert reply.status_code == 200
    assert reply.json() == held


async def test_releasing_a_hold_frees_the_seat_at_once(api: Api, concert: Concert) -> None:
    fan = await api.active_fan(concert.concert_id)
    reservation_id = await api.held(fan, concert.concert_id, 4)

    released = await api.client.delete(f"{API}/reservations/{reservation_id}", headers=fan.auth)

    assert released.status_code == 204
    assert released.content == b""
    assert (await api.seats(fan, concert.concert_id))[4] == "AVAILABLE"
    shown = await api.client.get(f"{API}/reservations/{reservation_id}", headers=fan.auth)
    assert shown.json()["status"] == "RELEASED"
    assert shown.json()["held_until"] is None


async def test_paying_for_two_holds_is_201_with_a_receipt(api: Api, concert: Concert) -> None:
    fan = await api.active_fan(concert.concert_id)
    front = await api.held(fan, concert.concert_id, 1)
    back = await api.held(fan, concert.concert_id, 50)
    await api.charge(fan.user_id, 1_000_000)

    reply = await api.pay(fan, [front, back])

    assert reply.status_code == 201
    receipt = reply.json()
    assert set(receipt) == {"payment_id", "reservation_ids", "amount", "balance", "paid_at"}
    assert sorted(receipt["reservation_ids"]) == sorted([front, back])
    assert receipt["amount"] == 150_000 + 70_000
    assert receipt["balance"] == 1_000_000 - 220_000
    assert receipt["paid_at"] == "2026-01-01T12:00:00Z"
    uuid.UUID(receipt["payment_id"])


async def test_a_new_user_has_a_balance_of_zero_and_charges_add_up(api: Api) -> None:
    user = str(uuid.uuid4())

    empty = await api.client.get(f"{API}/users/{user}/balance")
    first = await api.charge(user, 10_000)
    second = await api.charge(user, 2_500)

    assert empty.status_code == 200
    assert empty.json() == {"user_id": user, "balance": 0}
    assert first.status_code == 200
    assert first.json() == {"user_id": user, "balance": 10_000}
    assert second.json() == {"user_id": user, "balance": 12_500}
    assert await api.balance(user) == 12_500


async def test_payment_history_lists_newest_first(api: Api, concert: Concert) -> None:
    user = str(uuid.uuid4())
    await api.charge(user, 1_000_000)
    paid = []
    for seat_no in (20, 21):
        fan = await api.active_fan(concert.concert_id, user)
        reservation_id = await api.held(fan, concert.concert_id, seat_no)
        paid.append((await api.pay(fan, [reservation_id])).json())
        api.clock.advance(5)

    reply = await api.client.get(f"{API}/users/{user}/payments")

    assert reply.status_code == 200
    assert reply.json() == [
        {k: p[k] for k in ("payment_id", "reservation_ids", "amount", "paid_at")}
        for p in reversed(paid)
    ]
    empty = await api.client.get(f"{API}/users/{uuid.uuid4()}/payments")
    assert empty.json() == []
