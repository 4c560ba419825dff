"""Holds that lapse with time, and charges and payments retried with a key."""

from __future__ import annotations

import uuid

from concert_core.domain import Concert
from e2e.helpers import API, Api, assert_problem


async def test_a_lapsed_hold_frees_the_seat_at_once_without_a_sweeper(
    api: Api, concert: Concert
) -> None:
    cid = concert.concert_id
    holder, other = await api.active_fan(cid), await api.active_fan(cid)
    reservation_id = await api.held(holder, cid, 25)
    assert (await api.seats(other, cid))[25] == "HELD"
    assert_problem(await api.hold(other, cid, 25), 409, "SEAT_UNAVAILABLE")

    api.clock.advance(api.service.policy.hold_ttl.total_seconds())

    assert (await api.seats(other, cid))[25] == "AVAILABLE"
    assert 25 in await api.seats(other, cid, available=True)
    mine = await api.client.get(f"{API}/reservations/{reservation_id}", headers=holder.auth)
    assert mine.json()["status"] == "RELEASED"
    assert mine.json()["held_until"] is None
    taken = await api.hold(other, cid, 25)
    assert taken.status_code == 201
    assert taken.json()["reservation_id"] != reservation_id


async def test_a_hold_keeps_the_token_active_until_it_lapses(api: Api, concert: Concert) -> None:
    fan = await api.active_fan(concert.concert_id)
    api.clock.advance(api.service.policy.active_ttl.total_seconds() - 10)
    held = (await api.hold(fan, concert.concert_id, 2)).json()

    api.clock.advance(30)  # past the token's own time, within the hold's

    status = (await api.status(fan)).json()
    assert status["status"] == "ACTIVE"
    assert status["active_until"] == held["held_until"]


async def test_a_charge_retried_with_its_key_returns_the_first_result_and_charges_once(
    api: Api,
) -> None:
    user = str(uuid.uuid4())

    first = await api.charge(user, 30_000, key="charge-1")
    retry = await api.charge(user, 30_000, key="charge-1")
    other_key = await api.charge(user, 30_000, key="charge-2")

    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json() == {"user_id": user, "balance": 30_000}
    assert other_key.json()["balance"] == 60_000
    assert await api.balance(user) == 60_000


async def test_whitespace_around_a_key_is_not_part_of_it(api: Api) -> None:
    user = str(uuid.uuid4())

    await api.charge(user, 100, key="top-up")
    retry = await api.charge(user, 100, key="top-up \t")

    assert retry.json()["balance"] == 100
    assert await api.balance(user) == 100


async def test_the_same_key_of_another_user_is_another_request(api: Api) -> None:
    one, two = str(uuid.uuid4()), str(uuid.uuid4())

    await api.charge(one, 1_000, key="shared")
    reply = await api.charge(two, 2_000, key="shared")

    assert reply.status_code == 200
    assert reply.json()["balance"] == 2_000


async def test_a_payment_retried_with_its_key_returns_the_first_receipt_and_pays_once(
    api: Api, concert: Concert
) -> None:
    fan = await api.active_fan(concert.concert_id)
    reservation_id = await api.held(fan, concert.concert_id, 33)
    await api.charge(fan.user_id, 500_000)

    first = await api.pay(fan, [reservation_id], key="pay-1")
    # The token is EXPIRED now, yet a client retrying a lost reply gets its payment back.
    retry = await api.pay(fan, [reservation_id], key="pay-1")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert (await api.status(fan)).json()["status"] == "EXPIRED"
    assert await api.balance(fan.user_id) == 500_000 - first.json()["amount"]
    history = (await api.client.get(f"{API}/users/{fan.user_id}/payments")).json()
    assert [p["payment_id"] for p in history] == [first.json()["payment_id"]]


async def test_a_payment_key_reused_for_other_reservations_is_422(
    api: Api, concert: Concert
) -> None:
    fan = await api.active_fan(concert.concert_id)
    one = await api.held(fan, concert.concert_id, 40)
    two = await api.held(fan, concert.concert_id, 41)
    await api.charge(fan.user_id, 500_000)
    assert (await api.pay(fan, [one], key="pay-2")).status_code == 201

    reply = await api.pay(fan, [two], key="pay-2")

    assert_problem(reply, 422, "IDEMPOTENCY_KEY_REUSED")


async def test_a_failed_keyed_payment_can_be_retried_with_the_same_key(
    api: Api, concert: Concert
) -> None:
    fan = await api.active_fan(concert.concert_id)
    reservation_id = await api.held(fan, concert.concert_id, 42)

    poor = await api.pay(fan, [reservation_id], key="pay-3")
    await api.charge(fan.user_id, 500_000)
    rich = await api.pay(fan, [reservation_id], key="pay-3")

    assert_problem(poor, 402, "INSUFFICIENT_BALANCE")
    assert rich.status_code == 201
