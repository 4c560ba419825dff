"""What fans see of an on-sale over HTTP: each phase's joining rule, the sale in every
token and status reply, the phase in the concert list, and the admin's controls
(pause, capacity, message, closing) reaching them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from concert_core import Policy
from e2e.helpers import API, Api, OpenApi, assert_problem

PREQUEUE = "2026-01-01T12:05:00Z"
OPENS = "2026-01-01T12:10:00Z"
"""The test clock starts at 12:00: the pre-queue opens in 5 minutes, the sale in 10."""


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


async def move_to(api: Api, text: str) -> None:
    api.clock.advance(at(text) - await api.clock.now())


async def scheduled(api: Api, **sale: Any) -> int:
    view = await api.add_concert(sale={"prequeue_opens_at": PREQUEUE, "opens_at": OPENS} | sale)
    concert_id: int = view["concert_id"]
    return concert_id


async def test_joining_before_the_prequeue_is_409_saying_when(api: Api) -> None:
    cid = await scheduled(api)

    reply = await api.enter(cid)

    problem = assert_problem(reply, 409, "SALE_NOT_OPEN")
    assert at(problem["opens_at"]) == at(OPENS)
    assert at(problem["prequeue_opens_at"]) == at(PREQUEUE)
    assert problem["type"] == "urn:concert:problem:sale-not-open"


async def test_without_a_prequeue_nobody_joins_before_the_opening(api: Api) -> None:
    view = await api.add_concert(sale={"opens_at": OPENS})

    problem = assert_problem(await api.enter(view["concert_id"]), 409, "SALE_NOT_OPEN")

    assert problem["prequeue_opens_at"] is None
    assert at(problem["opens_at"]) == at(OPENS)


async def test_a_prequeued_fan_waits_without_a_place_until_the_opening(api: Api) -> None:
    cid = await scheduled(api, message="Doors at six")
    await move_to(api, PREQUEUE)

    joined = await api.enter(cid)
    fan = await api.waiting_fan(cid)
    status = await api.status(fan)

    assert joined.status_code == 201, joined.text
    body = joined.json()
    assert (body["status"], body["position"]) == ("WAITING", None)
    assert body["sale"] == {
        "phase": "PREQUEUE",
        "opens_at": "2026-01-01T12:10:00Z",
        "message": "Doors at six",
    }
    assert status.json()["sale"]["phase"] == "PREQUEUE"
    assert status.json()["position"] is None
    poll = status.json()["poll_after_seconds"]
    assert status.headers["Retry-After"] == str(poll)
    # Just after the opening, spread by the token; never past a third of the idle timeout.
    assert poll == min(300 + 6, api.service.policy.idle_timeout.total_seconds() // 3)
    await api.service.admit_waiting(cid)
    assert (await api.status(fan)).json()["status"] == "WAITING"  # nobody before the opening


async def test_at_the_opening_the_prequeue_gets_places_ahead_of_later_fans(api: Api) -> None:
    cid = await scheduled(api)
    await move_to(api, PREQUEUE)
    early = [await api.waiting_fan(cid) for _ in range(5)]
    while await api.clock.now() < at(OPENS):  # the pre-queue polls as it is told
        api.clock.advance(30)
        for fan in early:
            assert (await api.status(fan)).json()["status"] == "WAITING"
    late = await api.waiting_fan(cid)

    places = sorted([(await api.status(f)).json()["position"] for f in early])
    view = (await api.admin("GET", f"/concerts/{cid}")).json()

    assert places == [1, 2, 3, 4, 5]
    assert (await api.status(late)).json()["position"] == 6
    assert (await api.status(late)).json()["sale"]["phase"] == "OPEN"
    assert view["sale"]["phase"] == "OPEN"
    assert isinstance(view["sale"]["shuffle_seed"], int)
    assert view["queue"]["waiting"] == 6


async def test_the_concert_list_carries_each_phase_and_opening(api: Api) -> None:
    open_now = await api.add_concert()
    later = await scheduled(api)

    listed = (await api.client.get(f"{API}/concerts")).json()

    assert [(c["concert_id"], c["phase"], c["opens_at"]) for c in listed] == [
        (open_now["concert_id"], "OPEN", None),
        (later, "SCHEDULED", "2026-01-01T12:10:00Z"),
    ]
    assert set(listed[0]) == {"concert_id", "title", "venue", "phase", "opens_at"}


async def test_a_paused_sale_takes_joins_and_admits_nobody_until_resumed(api: Api) -> None:
    cid = (await api.add_concert())["concert_id"]
    await api.change_sale(cid, paused=True, message="Back in five minutes")

    fan = await api.waiting_fan(cid)
    await api.service.admit_waiting(cid)
    paused = (await api.status(fan)).json()
    await api.change_sale(cid, paused=False)
    await api.service.admit_waiting(cid)
    resumed = (await api.status(fan)).json()

    assert paused["status"] == "WAITING"
    assert paused["position"] == 1
    assert paused["sale"] == {
        "phase": "PAUSED",
        "opens_at": None,
        "message": "Back in five minutes",
    }
    assert resumed["status"] == "ACTIVE"
    assert resumed["sale"]["phase"] == "OPEN"


async def test_capacity_is_the_concerts_own_and_lowering_it_ends_no_turn(api: Api) -> None:
    cid = (await api.add_concert(sale={"capacity": 3}))["concert_id"]
    fans = [await api.waiting_fan(cid) for _ in range(4)]
    await api.service.admit_waiting(cid)
    assert [(await api.status(f)).json()["status"] for f in fans] == ["ACTIVE"] * 3 + ["WAITING"]

    await api.change_sale(cid, capacity=1)
    await api.client.delete(f"{API}/queue/tokens/me", headers=fans[0].auth)
    await api.service.admit_waiting(cid)

    statuses = [(await api.status(f)).json()["status"] for f in fans]
    assert statuses == ["EXPIRED", "ACTIVE", "ACTIVE", "WAITING"]


async def test_a_closed_sale_is_410_and_ends_the_waiting(api: Api) -> None:
    cid = (await api.add_concert(sale={"capacity": 1}))["concert_id"]
    active = await api.active_fan(cid)
    waiting = await api.waiting_fan(cid)

    await api.change_sale(cid, closes_at="2026-01-01T12:00:00Z")
    await api.service.admit_waiting(cid)

    problem = assert_problem(await api.enter(cid), 410, "SALE_CLOSED")
    assert problem["phase"] == "CLOSED"
    assert (await api.status(waiting)).json()["status"] == "EXPIRED"
    still = (await api.status(active)).json()
    assert still["status"] == "ACTIVE"  # an active fan keeps the turn
    assert still["sale"]["phase"] == "CLOSED"


async def test_a_sold_out_concert_is_410_and_ends_the_waiting(open_api: OpenApi) -> None:
    async with open_api(Policy(active_capacity=1, max_holds_per_user=50)) as api:
        cid = (await api.add_concert(dates=["2026-12-24"], prices=[1_000] * 50))["concert_id"]
        buyer = await api.active_fan(cid)
        waiting = await api.waiting_fan(cid)
        holds = [await api.held(buyer, cid, n) for n in range(1, 51)]
        assert (await api.charge(buyer.user_id, 50_000)).status_code == 200
        assert (await api.pay(buyer, holds)).status_code == 201

        api.clock.advance(api.service.policy.admission_interval)  # sales are re-read
        await api.service.admit_waiting(cid)
        refused = await api.enter(cid)
        listed = (await api.client.get(f"{API}/concerts")).json()
        view = (await api.admin("GET", f"/concerts/{cid}")).json()
        ended = (await api.status(waiting)).json()

    assert assert_problem(refused, 410, "SALE_CLOSED")["phase"] == "SOLD_OUT"
    assert ended["status"] == "EXPIRED"
    assert ended["sale"]["phase"] == "SOLD_OUT"
    assert listed[0]["phase"] == "SOLD_OUT"
    assert view["dates"] == [{"date": "2026-12-24", "available": 0, "held": 0, "sold": 50}]
    assert view["revenue"] == 50_000
    assert view["queue"]["waiting"] == 0


async def test_opening_a_scheduled_sale_now_lets_fans_in(api: Api) -> None:
    cid = await scheduled(api)
    assert_problem(await api.enter(cid), 409, "SALE_NOT_OPEN")

    await api.change_sale(cid, prequeue_opens_at=None, opens_at=None)
    fan = await api.waiting_fan(cid)
    await api.service.admit_waiting(cid)

    assert (await api.status(fan)).json()["status"] == "ACTIVE"
