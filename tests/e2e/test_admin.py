"""The operator's routes under /api/v1/admin: concerts, dates and sales, behind the
operator key; bad input is 400 and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from concert_core import Policy
from e2e.helpers import API, Api, OpenApi, assert_problem

OPENS = "2026-01-01T12:10:00+00:00"
"""Ten minutes after the test clock's start."""


async def test_adding_a_concert_answers_its_view(api: Api) -> None:
    reply = await api.admin(
        "POST",
        "/concerts",
        {
            "title": "Winter Lights",
            "venue": "Olympic Hall",
            "dates": ["2026-12-25", "2026-12-24"],
            "price": 100_000,
        },
    )

    assert reply.status_code == 201, reply.text
    view = reply.json()
    assert set(view) == {"concert_id", "title", "venue", "dates", "sale", "queue", "revenue"}
    assert (view["title"], view["venue"], view["revenue"]) == ("Winter Lights", "Olympic Hall", 0)
    assert view["dates"] == [
        {"date": "2026-12-24", "available": 50, "held": 0, "sold": 0},
        {"date": "2026-12-25", "available": 50, "held": 0, "sold": 0},
    ]
    assert view["sale"] == {
        "phase": "OPEN",
        "prequeue_opens_at": None,
        "opens_at": None,
        "closes_at": None,
        "paused": False,
        "capacity": api.service.policy.active_capacity,
        "admission_per_minute": None,
        "join_challenge": False,
        "message": None,
        "shuffle_seed": None,
    }
    assert view["queue"] == {"waiting": 0, "active": 0, "admitted_last_minute": 0}


async def test_a_base_price_is_tiered_and_fifty_prices_are_taken_as_they_are(api: Api) -> None:
    tiered = await api.add_concert(price=100_000)
    own = await api.add_concert(prices=list(range(1_000, 51_000, 1_000)))

    fan = await api.active_fan(tiered["concert_id"])
    tiers = await api.client.get(
        f"{API}/concerts/{tiered['concert_id']}/dates/2026-12-24/seats", headers=fan.auth
    )
    prices = [s["price"] for s in tiers.json()["seats"]]
    assert (prices[0], prices[10], prices[49]) == (150_000, 100_000, 70_000)

    other = await api.active_fan(own["concert_id"])
    seats = await api.client.get(
        f"{API}/concerts/{own['concert_id']}/dates/2026-12-24/seats", headers=other.auth
    )
    assert [s["price"] for s in seats.json()["seats"]] == list(range(1_000, 51_000, 1_000))


async def test_a_concert_added_with_a_sale_shows_its_settings(api: Api) -> None:
    view = await api.add_concert(
        sale={
            "prequeue_opens_at": "2026-01-01T20:55:00+09:00",
            "opens_at": OPENS,
            "capacity": 3,
            "admission_per_minute": 60,
            "message": "  Doors at six.  ",
        }
    )

    sale = view["sale"]
    assert sale["phase"] == "PREQUEUE"
    assert sale["prequeue_opens_at"] == "2026-01-01T11:55:00Z"
    assert sale["opens_at"] == "2026-01-01T12:10:00Z"
    assert (sale["capacity"], sale["admission_per_minute"]) == (3, 60)
    assert sale["message"] == "Doors at six."


async def test_concerts_are_listed_and_read_one_by_one(api: Api) -> None:
    one, two = await api.add_concert(), await api.add_concert(sale={"opens_at": OPENS})

    listed = await api.admin("GET", "/concerts")
    single = await api.admin("GET", f"/concerts/{two['concert_id']}")

    assert listed.status_code == 200
    assert [v["concert_id"] for v in listed.json()] == [one["concert_id"], two["concert_id"]]
    assert single.status_code == 200
    assert single.json() == two
    assert single.json()["sale"]["phase"] == "SCHEDULED"
    assert_problem(await api.admin("GET", "/concerts/999999"), 404, "NOT_FOUND")


async def test_a_date_is_added_once(api: Api) -> None:
    concert = await api.add_concert()
    path = f"/concerts/{concert['concert_id']}/dates"

    added = await api.admin("POST", path, {"date": "2026-12-31", "price": 50_000})
    again = await api.admin("POST", path, {"date": "2026-12-31", "price": 50_000})
    missing = await api.admin("POST", "/concerts/999999/dates", {"date": "2026-12-31", "price": 1})

    assert added.status_code == 201, added.text
    assert [d["date"] for d in added.json()["dates"]] == ["2026-12-24", "2026-12-25", "2026-12-31"]
    assert_problem(again, 409, "DATE_EXISTS")
    assert_problem(missing, 404, "NOT_FOUND")


async def test_a_sale_is_changed_by_any_subset_of_its_settings(api: Api) -> None:
    concert = await api.add_concert(sale={"message": "hello", "admission_per_minute": 30})
    cid = concert["concert_id"]

    paused = await api.change_sale(cid, paused=True, capacity=5)
    cleared = await api.change_sale(cid, message=None, admission_per_minute=None)
    resumed = await api.change_sale(cid, paused=False)

    assert paused["sale"]["phase"] == "PAUSED"
    assert (paused["sale"]["capacity"], paused["sale"]["message"]) == (5, "hello")
    assert (cleared["sale"]["message"], cleared["sale"]["admission_per_minute"]) == (None, None)
    assert cleared["sale"]["paused"] is True
    assert resumed["sale"]["phase"] == "OPEN"
    assert resumed["sale"]["capacity"] == 5
    assert (await api.admin("GET", f"/concerts/{cid}")).json() == resumed


async def test_the_view_counts_seats_line_and_revenue(api: Api) -> None:
    concert = await api.add_concert(prices=[1_000] * 50)
    cid = concert["concert_id"]
    buyer, holder = await api.active_fan(cid), await api.active_fan(cid)
    await api.waiting_fan(cid)
    paid = await api.held(buyer, cid, 1)
    await api.held(holder, cid, 2)
    assert (await api.charge(buyer.user_id, 1_000)).status_code == 200
    assert (await api.pay(buyer, [paid])).status_code == 201

    view = (await api.admin("GET", f"/concerts/{cid}")).json()

    assert view["dates"][0] == {"date": "2026-12-24", "available": 48, "held": 1, "sold": 1}
    assert view["revenue"] == 1_000
    assert view["queue"]["waiting"] == 1
    assert view["queue"]["active"] == 1
    assert view["queue"]["admitted_last_minute"] == 2


ROUTES = [
    ("GET", "/concerts", None),
    ("POST", "/concerts", {"title": "T", "venue": "V", "dates": ["2026-12-24"], "price": 1}),
    ("GET", "/concerts/{cid}", None),
    ("POST", "/concerts/{cid}/dates", {"date": "2026-12-31", "price": 1}),
    ("PATCH", "/concerts/{cid}/sale", {"paused": True}),
]
WRONG_KEYS = {
    "no header": None,
    "empty": "",
    "bare bearer": "Bearer",
    "basic": "Basic {key}",
    "the key without a scheme": "{key}",
    "a wrong key": "Bearer " + "k" * 43,
    "the key cut short": "Bearer {short}",
    "the key and more": "Bearer {key}x",
    "the key in upper case": "Bearer {upper}",
    "a fan's token": "Bearer {token}",
    "non-ascii": "Bearer cl\u00e9",
}


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_every_admin_route_needs_the_operator_key_and_says_nothing_more(
    api: Api, method: str, path: str, body: Any
) -> None:
    concert = await api.add_concert()
    cid = concert["concert_id"]
    fan = await api.waiting_fan(cid)
    key = api.storage.admin_key
    before = (await api.admin("GET", "/concerts")).json()
    details = set()

    for name, header in WRONG_KEYS.items():
        headers: dict[str, Any] = {}
        if header is not None:
            headers["Authorization"] = (
                header.replace("{key}", key)
                .replace("{short}", key[:-1])
                .replace("{upper}", key.upper())
                .replace("{token}", fan.token)
                .encode("latin-1")
            )
        reply = await api.admin(method, path.replace("{cid}", str(cid)), body, headers=headers)
        problem = assert_problem(reply, 401, "ADMIN_KEY_INVALID")
        assert reply.headers["WWW-Authenticate"] == 'Bearer realm="admin"', name
        details.add(problem["detail"])

    assert len(details) == 1
    assert (await api.admin("GET", "/concerts")).json() == before


async def test_the_key_is_checked_before_the_body(api: Api) -> None:
    reply = await api.admin("POST", "/concerts", {"nonsense": True}, headers={})

    assert_problem(reply, 401, "ADMIN_KEY_INVALID")


async def test_the_generated_key_is_shared_by_every_app_on_the_storage(
    open_api: OpenApi, api: Api
) -> None:
    async with open_api(api.service.policy) as other:
        if api.settings.in_memory:
            assert other.storage.admin_key != api.storage.admin_key  # one per process
        else:
            assert other.storage.admin_key == api.storage.admin_key  # stored once
    assert len(api.storage.admin_key) >= 32


async def test_a_configured_operator_key_is_the_one_taken(open_api: OpenApi) -> None:
    key = "operator-" + "q" * 40
    async with open_api(Policy(), admin_key=key) as api:
        good = await api.admin("GET", "/concerts", headers={"Authorization": f"Bearer {key}"})
        bad = await api.admin("GET", "/concerts", headers={"Authorization": f"Bearer {key[:-1]}z"})

    assert good.status_code == 200
    assert_problem(bad, 401, "ADMIN_KEY_INVALID")


PAST = "2025-12-31"
"""The day before the test clock's."""
NEW = {"title": "T", "venue": "V", "dates": ["2026-12-24"], "price": 1_000}
BAD_NEW_CONCERTS = {
    "a date in the past": ({**NEW, "dates": ["2026-12-24", PAST]}, "in the past"),
    "a repeated date": ({**NEW, "dates": ["2026-12-24", "2026-12-24"]}, "repeat"),
    "no dates": ({**NEW, "dates": []}, "dates"),
    "a date that is no date": ({**NEW, "dates": ["2026-02-30"]}, "dates"),
    "both price and prices": ({**NEW, "prices": [1] * 50}, "either price"),
    "neither price nor prices": ({k: v for k, v in NEW.items() if k != "price"}, "either"),
    "49 prices": (
        {**{k: v for k, v in NEW.items() if k != "price"}, "prices": [1] * 49},
        "prices",
    ),
    "a price as text": ({**NEW, "price": "1000"}, "price"),
    "an empty title": ({**NEW, "title": ""}, "title"),
    "a blank title": ({**NEW, "title": "   "}, "title"),
    "a title on two lines": ({**NEW, "title": "a\nb"}, "title must be one line"),
    "a venue with a NUL": ({**NEW, "venue": "a\x00b"}, "venue must be one line"),
    "a message with a NUL": ({**NEW, "sale": {"message": "a\x00b"}}, "NUL"),
    "a title of 201 characters": ({**NEW, "title": "t" * 201}, "title"),
    "an unknown field": ({**NEW, "colour": "red"}, "colour"),
    "an unknown sale setting": ({**NEW, "sale": {"opens": OPENS}}, "opens"),
    "pre-queue after the opening": (
        {**NEW, "sale": {"prequeue_opens_at": "2026-01-01T12:11:00Z", "opens_at": OPENS}},
        "prequeue_opens_at must not be after opens_at",
    ),
    "a pre-queue without an opening": (
        {**NEW, "sale": {"prequeue_opens_at": OPENS}},
        "opening time",
    ),
    "closing before the opening": (
        {**NEW, "sale": {"opens_at": OPENS, "closes_at": "2026-01-01T12:00:00Z"}},
        "closes_at",
    ),
    "capacity 0": ({**NEW, "sale": {"capacity": 0}}, "capacity"),
    "a rate of 0": ({**NEW, "sale": {"admission_per_minute": 0}}, "admission_per_minute"),
    "a message of 501 characters": ({**NEW, "sale": {"message": "m" * 501}}, "message"),
    "a time without an offset": ({**NEW, "sale": {"opens_at": "2026-01-01T12:10:00"}}, "opens_at"),
    "a time as a number": ({**NEW, "sale": {"opens_at": 1_767_269_400}}, "opens_at"),
    "a date for a time": ({**NEW, "sale": {"opens_at": "2026-01-01"}}, "opens_at"),
    "paused as text": ({**NEW, "sale": {"paused": "true"}}, "paused"),
}


@pytest.mark.parametrize(("body", "says"), BAD_NEW_CONCERTS.values(), ids=BAD_NEW_CONCERTS.keys())
async def test_a_bad_new_concert_is_400_saying_why_and_adds_nothing(
    api: Api, body: dict[str, Any], says: str
) -> None:
    reply = await api.admin("POST", "/concerts", body)

    problem = assert_problem(reply, 400, "VALIDATION_ERROR")
    assert says in problem["detail"], problem["detail"]
    assert (await api.admin("GET", "/concerts")).json() == []


BAD_SALE_CHANGES = {
    "capacity 0": ({"capacity": 0}, "capacity"),
    "capacity -1": ({"capacity": -1}, "capacity"),
    "capacity as text": ({"capacity": "5"}, "capacity"),
    "a message of 501 characters": ({"message": "m" * 501}, "message"),
    "an unknown setting": ({"pause": True}, "pause"),
    "pre-queue after the opening": (
        {"prequeue_opens_at": "2026-01-01T12:20:00Z", "opens_at": OPENS},
        "prequeue_opens_at must not be after opens_at",
    ),
    "a pre-queue after the stored opening": (
        {"prequeue_opens_at": "2026-01-01T12:20:00Z"},
        "prequeue_opens_at must not be after opens_at",
    ),
    "a naive time": ({"closes_at": "2026-01-01T13:00:00"}, "closes_at"),
    "not an object": ([{"paused": True}], ""),
    "null": (None, ""),
}


@pytest.mark.parametrize(("body", "says"), BAD_SALE_CHANGES.values(), ids=BAD_SALE_CHANGES.keys())
async def test_a_bad_sale_change_is_400_saying_why_and_changes_nothing(
    api: Api, body: Any, says: str
) -> None:
    concert = await api.add_concert(
        sale={"prequeue_opens_at": "2026-01-01T12:05:00Z", "opens_at": OPENS, "capacity": 7}
    )
    path = f"/concerts/{concert['concert_id']}"

    reply = await api.admin("PATCH", f"{path}/sale", body)

    problem = assert_problem(reply, 400, "VALIDATION_ERROR")
    assert says in problem["detail"], problem["detail"]
    assert (await api.admin("GET", path)).json() == concert


async def test_the_opening_cannot_move_once_the_line_has_opened(api: Api) -> None:
    concert = await api.add_concert()
    await api.waiting_fan(concert["concert_id"])  # the first join opens the line
    path = f"/concerts/{concert['concert_id']}"

    reply = await api.admin("PATCH", f"{path}/sale", {"opens_at": "2026-01-02T00:00:00Z"})

    assert "has opened" in assert_problem(reply, 400, "VALIDATION_ERROR")["detail"]
    assert (await api.admin("GET", path)).json()["sale"]["opens_at"] is None


async def test_a_date_in_the_past_is_not_added(api: Api) -> None:
    concert = await api.add_concert()
    path = f"/concerts/{concert['concert_id']}"

    reply = await api.admin("POST", f"{path}/dates", {"date": PAST, "price": 1_000})

    assert "in the past" in assert_problem(reply, 400, "VALIDATION_ERROR")["detail"]
    assert (await api.admin("GET", path)).json() == concert


@pytest.mark.parametrize("concert_id", ["abc", "0", "-1", "1e3", "99999999999999999999999"])
async def test_a_malformed_concert_id_is_400(api: Api, concert_id: str) -> None:
    for method, suffix, body in (
        ("GET", "", None),
        ("PATCH", "/sale", {"paused": True}),
        ("POST", "/dates", {"date": "2026-12-31", "price": 1}),
    ):
        reply = await api.admin(method, f"/concerts/{concert_id}{suffix}", body)
        assert reply.status_code in (400, 404), reply.text
        assert_problem(reply, reply.status_code)
