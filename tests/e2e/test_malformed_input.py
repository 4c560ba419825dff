"""Malformed input of every shape is a 4xx problem and changes nothing.

Each case is sent by a fan who is ACTIVE, holds seat 1 and has a small balance; many
would change something (hold seat 2, charge the wallet) if the server took them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from adapters.tokens import JwtTokenCodec
from concert_core.domain import ConcertId
from concert_core.use_cases import ListSeatsQuery
from e2e.helpers import API, DAY, Api, Fan, assert_problem
from support import DATES

JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Scene:
    api: Api
    concert_id: ConcertId
    fan: Fan
    waiting: Fan
    reservation_id: str

    async def snapshot(self) -> dict[str, Any]:
        """Everything a request could change, read through the service."""
        service = self.api.service
        now = await self.api.clock.now()
        return {
            "balance": await service.get_balance(self.fan.user_id),
            "payments": await service.payment_history(self.fan.user_id),
            "seats": [
                await service.list_seats(ListSeatsQuery(self.fan.token, self.concert_id, d))
                for d in DATES
            ],
            "reservation": await service.get_reservation(self.fan.token, self.reservation_id),
            "queue": await self.api.storage.queue.stats(self.concert_id, now),
            "fan": await service.queue_status(self.fan.token),
            "waiting": await service.queue_status(self.waiting.token),
            "concerts": await service.list_concerts(),
            "reports": await service.report_concerts(),
        }


@pytest.fixture
async def scene(api: Api) -> Scene:
    concert = await api.schedule()
    fan = await api.active_fan(concert.concert_id)
    await api.active_fan(concert.concert_id)  # fills the second place: the next one waits
    waiting = await api.waiting_fan(concert.concert_id)
    reservation_id = await api.held(fan, concert.concert_id, 1)
    assert (await api.charge(fan.user_id, 100_000)).status_code == 200
    return Scene(api, concert.concert_id, fan, waiting, reservation_id)


def hold(body: str | bytes, **headers: str) -> tuple[str, str, bytes, dict[str, str]]:
    raw = body.encode() if isinstance(body, str) else body
    return ("POST", "/reservations", raw, JSON | headers)


def seat(field: str, value: str) -> tuple[str, str, bytes, dict[str, str]]:
    """A hold of seat 2 with one field replaced by ``value`` (raw JSON)."""
    fields = {"concert_id": "{cid}", "date": f'"{DAY}"', "seat_no": "2"}
    fields[field] = value
    return hold("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}")


def without(field: str) -> tuple[str, str, bytes, dict[str, str]]:
    fields = {"concert_id": "{cid}", "date": f'"{DAY}"', "seat_no": "2"}
    del fields[field]
    return hold("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}")


def charge(body: str | bytes, user: str = "{user}", **headers: str) -> Any:
    raw = body.encode() if isinstance(body, str) else body
    return ("POST", f"/users/{user}/balance/charge", raw, JSON | headers)


def pay(body: str, **headers: str) -> Any:
    return ("POST", "/payments", body.encode(), JSON | headers)


def issue(body: str) -> Any:
    return ("POST", "/queue/tokens", body.encode(), JSON)


def get(path: str, method: str = "GET") -> Any:
    return (method, path, b"", {})


def admin(method: str, path: str, body: str | bytes = b"", **headers: str) -> Any:
    """A request to an admin route with the operator key (unless ``headers`` say else)."""
    raw = body.encode() if isinstance(body, str) else body
    return (method, "/admin" + path, raw, JSON | {"Authorization": "Bearer {admin}"} | headers)


def new_concert(**fields: str) -> Any:
    """A new concert whose fields (raw JSON) are as valid as ``fields`` leave them."""
    body = {"title": '"T"', "venue": '"V"', "dates": '["2026-12-24"]', "price": "1000"} | fields
    return admin(
        "POST", "/concerts", "{" + ", ".join(f'"{k}": {v}' for k, v in body.items() if v) + "}"
    )


def with_headers(case: Any, headers: dict[str, str]) -> Any:
    """``case`` sent with ``headers`` in place of its own."""
    method, path, body, _ = case
    return (method, path, body, headers)


def sale(body: str, concert: str = "{cid}") -> Any:
    return admin("PATCH", f"/concerts/{concert}/sale", body)


VALID_HOLD = f'{{"concert_id": {{cid}}, "date": "{DAY}", "seat_no": 2}}'
DEEP = b"[" * 10_000 + b"]" * 10_000

CASES: dict[str, Any] = {
    # Not JSON, or not an object.
    "empty body": hold(b""),
    "truncated json": hold("{"),
    "null body": hold("null"),
    "array body": hold("[]"),
    "array of numbers": hold("[1, 2]"),
    "string body": hold('"seat"'),
    "number body": hold("42"),
    "boolean body": hold("true"),
    "empty object": hold("{}"),
    "invalid utf-8": hold(b'{"concert_id": 1, "date": "\xff\xfe", "seat_no": 2}'),
    "lone surrogate": seat("date", '"\\ud800"'),
    "deeply nested": hold(DEEP),
    "text/plain body": hold(VALID_HOLD, **{"Content-Type": "text/plain"}),
    "form body": hold("concert_id=1&seat_no=2", **{"Content-Type": "x-www-form-urlencoded"}),
    # Seat numbers.
    "seat 0": seat("seat_no", "0"),
    "seat 51": seat("seat_no", "51"),
    "seat -1": seat("seat_no", "-1"),
    "seat 10**30": seat("seat_no", str(10**30)),
    "seat -10**30": seat("seat_no", str(-(10**30))),
    "seat float": seat("seat_no", "2.0"),
    "seat fraction": seat("seat_no", "2.5"),
    "seat exponent": seat("seat_no", "2e0"),
    "seat string": seat("seat_no", '"2"'),
    "seat boolean": seat("seat_no", "true"),
    "seat null": seat("seat_no", "null"),
    "seat array": seat("seat_no", "[2]"),
    "seat object": seat("seat_no", '{"n": 2}'),
    "seat missing": without("seat_no"),
    # Dates.
    "month 13": seat("date", '"2026-13-01"'),
    "february 30": seat("date", '"2026-02-30"'),
    "timestamp": seat("date", '"2026-12-24T00:00:00"'),
    "compact date": seat("date", '"20261224"'),
    "week date": seat("date", '"2026-W52-4"'),
    "empty date": seat("date", '""'),
    "nul date": seat("date", '"\\u0000"'),
    "date with nul": seat("date", f'"{DAY}\\u0000"'),
    "fullwidth date": seat("date", '"２０２６-12-24"'),
    "long date": seat("date", '"' + "9" * 10_000 + '"'),
    "date number": seat("date", "20261224"),
    "date null": seat("date", "null"),
    "date missing": without("date"),
    # Concert ids.
    "concert 0": seat("concert_id", "0"),
    "concert -1": seat("concert_id", "-1"),
    "concert 10**30": seat("concert_id", str(10**30)),
    "concert float": seat("concert_id", "{cid}.0"),
    "concert string": seat("concert_id", '"{cid}"'),
    "concert boolean": seat("concert_id", "true"),
    "concert null": seat("concert_id", "null"),
    "concert missing": without("concert_id"),
    # Bearer tokens (the body would hold seat 2).
    "no token": ("POST", "/reservations", VALID_HOLD.encode(), JSON | {"Authorization": ""}),
    "bare bearer": hold(VALID_HOLD, Authorization="Bearer"),
    "basic auth": hold(VALID_HOLD, Authorization="Basic dXNlcjpwYXNz"),
    "garbage token": hold(VALID_HOLD, Authorization="Bearer a.b.c"),
    "huge token": hold(VALID_HOLD, Authorization="Bearer " + "x" * 8_000),
    "forged token": hold(VALID_HOLD, Authorization="Bearer {forged}"),
    "waiting token": hold(VALID_HOLD, Authorization="Bearer {waiting}"),
    # Charges.
    "amount 0": charge('{"amount": 0}'),
    "amount -1": charge('{"amount": -1}'),
    "amount over the cap": charge('{"amount": 10000001}'),
    "amount 10**30": charge(f'{{"amount": {10**30}}}'),
    "amount float": charge('{"amount": 100.0}'),
    "amount fraction": charge('{"amount": 1.5}'),
    "amount exponent": charge('{"amount": 1e3}'),
    "amount string": charge('{"amount": "100"}'),
    "amount boolean": charge('{"amount": true}'),
    "amount null": charge('{"amount": null}'),
    "amount array": charge('{"amount": [100]}'),
    "amount object": charge('{"amount": {"won": 100}}'),
    "amount missing": charge("{}"),
    "charge text/plain": charge('{"amount": 100}', **{"Content-Type": "text/plain"}),
    "charge empty key": charge('{"amount": 100}', **{"Idempotency-Key": ""}),
    "charge long key": charge('{"amount": 100}', **{"Idempotency-Key": "k" * 256}),
    "charge control key": charge('{"amount": 100}', **{"Idempotency-Key": "a\x7fb"}),
    "user not a uuid": charge('{"amount": 100}', user="not-a-uuid"),
    "user zero": charge('{"amount": 100}', user="0"),
    "user very long": charge('{"amount": 100}', user="a" * 5_000),
    "user nul": charge('{"amount": 100}', user="%00"),
    "user invalid utf-8": charge('{"amount": 100}', user="%ff%fe"),
    "user non-ascii": charge('{"amount": 100}', user="%C3%BCser"),
    # Payments (the fan's balance does not cover the hold anyway; the shapes fail first).
    "no reservations": pay('{"reservation_ids": []}'),
    "reservation not a uuid": pay('{"reservation_ids": ["nope"]}'),
    "reservation twice": pay('{"reservation_ids": ["{rid}", "{rid}"]}'),
    "reservations string": pay('{"reservation_ids": "{rid}"}'),
    "reservations null": pay('{"reservation_ids": null}'),
    "reservation number": pay('{"reservation_ids": [1]}'),
    "reservations object": pay('{"reservation_ids": {"{rid}": 1}}'),
    "too many reservations": pay(
        '{"reservation_ids": [' + ", ".join(f'"{uuid.uuid4()}"' for _ in range(51)) + "]}"
    ),
    "reservations missing": pay("{}"),
    # Queue tokens.
    "token user not a uuid": issue('{"user_id": "x", "concert_id": {cid}}'),
    "token user number": issue('{"user_id": 7, "concert_id": {cid}}'),
    "token user null": issue('{"user_id": null, "concert_id": {cid}}'),
    "token concert 0": issue('{"user_id": "{newuser}", "concert_id": 0}'),
    "token concert string": issue('{"user_id": "{newuser}", "concert_id": "{cid}"}'),
    "token concert float": issue('{"user_id": "{newuser}", "concert_id": {cid}.0}'),
    "token concert 10**30": issue(f'{{"user_id": "{{newuser}}", "concert_id": {10**30}}}'),
    "token concert unknown": issue('{"user_id": "{newuser}", "concert_id": 999999}'),
    # Paths and queries.
    "concert id letters": get("/concerts/abc/dates"),
    "concert id negative": get("/concerts/-1/dates"),
    "concert id zero": get("/concerts/0/dates"),
    "concert id exponent": get("/concerts/1e3/dates"),
    "concert id huge": get("/concerts/99999999999999999999999/dates"),
    "concert id space": get("/concerts/%20/dates"),
    "concert id fullwidth": get("/concerts/%EF%BC%91/dates"),
    "seats on february 30": get("/concerts/{cid}/dates/2026-02-30/seats"),
    "seats on a word": get("/concerts/{cid}/dates/tomorrow/seats"),
    "seats on a short date": get("/concerts/{cid}/dates/2026-1-1/seats"),
    "seats available maybe": get(f"/concerts/{{cid}}/dates/{DAY}/seats?available=maybe"),
    "seats available empty": get(f"/concerts/{{cid}}/dates/{DAY}/seats?available="),
    "reservation id word": get("/reservations/nope"),
    "reservation id invalid utf-8": get("/reservations/%ff"),
    "reservation id very long": get("/reservations/" + "f" * 5_000),
    "release reservation id word": get("/reservations/nope", method="DELETE"),
    "unknown route": get("/nowhere"),
    "wrong method": get("/payments", method="PATCH"),
    "oversized body": charge('{"amount": 100, "pad": "' + "x" * 70_000 + '"}'),
    # The operator's routes: the key first, then the body.
    "admin without a key": admin("GET", "/concerts", Authorization=""),
    "admin with a fan's token": with_headers(new_concert(), JSON),  # the fan's token is sent
    "admin with a wrong key": admin("GET", "/concerts", Authorization="Bearer {admin}x"),
    "admin lower-case key": admin(
        "PATCH", "/concerts/{cid}/sale", '{"paused": true}', Authorization="Bearer {lower}"
    ),
    "new concert, empty body": admin("POST", "/concerts"),
    "new concert, not json": admin("POST", "/concerts", "{"),
    "new concert, array": admin("POST", "/concerts", "[]"),
    "new concert, text/plain": with_headers(
        new_concert(), {"Content-Type": "text/plain", "Authorization": "Bearer {admin}"}
    ),
    "new concert, date in the past": new_concert(dates='["2025-12-31"]'),
    "new concert, repeated dates": new_concert(dates='["2026-12-24", "2026-12-24"]'),
    "new concert, no dates": new_concert(dates="[]"),
    "new concert, dates a string": new_concert(dates='"2026-12-24"'),
    "new concert, a timestamp date": new_concert(dates='["2026-12-24T00:00:00Z"]'),
    "new concert, 521 dates": new_concert(
        dates="[" + ", ".join(f'"{2027 + i // 365}-01-01"' for i in range(521)) + "]"
    ),
    "new concert, no price": new_concert(price=""),
    "new concert, price and prices": new_concert(prices="[" + ", ".join(["1"] * 50) + "]"),
    "new concert, 51 prices": new_concert(price="", prices="[" + ", ".join(["1"] * 51) + "]"),
    "new concert, a negative price": new_concert(price="-1"),
    "new concert, price float": new_concert(price="1000.0"),
    "new concert, price string": new_concert(price='"1000"'),
    "new concert, price huge": new_concert(price=str(10**30)),
    "new concert, price null": new_concert(price="null"),
    "new concert, no title": new_concert(title=""),
    "new concert, empty title": new_concert(title='""'),
    "new concert, blank venue": new_concert(venue='"   "'),
    "new concert, title with a newline": new_concert(title='"a\\nb"'),
    "new concert, title with a nul": new_concert(title='"a\\u0000b"'),
    "new concert, long title": new_concert(title='"' + "t" * 201 + '"'),
    "new concert, unknown field": new_concert(colour='"red"'),
    "new concert, sale not an object": new_concert(sale="true"),
    "new concert, unknown sale setting": new_concert(sale='{"opens": null}'),
    "new concert, prequeue after opening": new_concert(
        sale='{"prequeue_opens_at": "2026-02-01T00:00:01Z", "opens_at": "2026-02-01T00:00:00Z"}'
    ),
    "new concert, capacity 0": new_concert(sale='{"capacity": 0}'),
    "new concert, message of 501": new_concert(sale='{"message": "' + "m" * 501 + '"}'),
    "new concert, naive time": new_concert(sale='{"opens_at": "2026-02-01T00:00:00"}'),
    "new concert, time as a number": new_concert(sale='{"opens_at": 1767225600}'),
    "new concert, time with a nul": new_concert(sale='{"opens_at": "2026-02-01T00:00:00Z\\u0000"}'),
    "new date, past": admin("POST", "/concerts/{cid}/dates", '{"date": "2025-12-31", "price": 1}'),
    "new date, exists": admin("POST", "/concerts/{cid}/dates", f'{{"date": "{DAY}", "price": 1}}'),
    "new date, unknown concert": admin(
        "POST", "/concerts/999999/dates", '{"date": "2026-12-31", "price": 1}'
    ),
    "new date, no price": admin("POST", "/concerts/{cid}/dates", '{"date": "2026-12-31"}'),
    "new date, unknown field": admin(
        "POST", "/concerts/{cid}/dates", '{"date": "2026-12-31", "price": 1, "seats": 60}'
    ),
    "new date, concert id word": admin(
        "POST", "/concerts/abc/dates", '{"date": "2026-12-31", "price": 1}'
    ),
    "sale, capacity 0": sale('{"capacity": 0}'),
    "sale, capacity string": sale('{"capacity": "5"}'),
    "sale, capacity float": sale('{"capacity": 5.0}'),
    "sale, rate 0": sale('{"admission_per_minute": 0}'),
    "sale, paused string": sale('{"paused": "yes"}'),
    "sale, paused null": sale('{"paused": null}'),
    "sale, challenge null": sale('{"join_challenge": null}'),
    "sale, message of 501": sale('{"message": "' + "m" * 501 + '"}'),
    "sale, message number": sale('{"message": 5}'),
    "sale, unknown setting": sale('{"pause": true}'),
    "sale, prequeue without opening": sale('{"prequeue_opens_at": "2026-02-01T00:00:00Z"}'),
    "sale, closing before opening": sale(
        '{"opens_at": "2026-02-01T00:00:00Z", "closes_at": "2026-01-31T00:00:00Z"}'
    ),
    "sale, moving the opening after it opened": sale('{"opens_at": "2026-02-01T00:00:00Z"}'),
    "sale, naive time": sale('{"closes_at": "2026-02-01T00:00:00"}'),
    "sale, bad offset": sale('{"closes_at": "2026-02-01T00:00:00+25:00"}'),
    "sale, not an object": sale("[]"),
    "sale, null": sale("null"),
    "sale, unknown concert": sale('{"paused": true}', concert="999999"),
    "sale, concert id zero": sale('{"paused": true}', concert="0"),
    "sale, concert id huge": sale('{"paused": true}', concert="9" * 30),
    "admin view, concert id word": admin("GET", "/concerts/abc"),
    "admin view, unknown concert": admin("GET", "/concerts/999999"),
    "admin, wrong method": admin("DELETE", "/concerts/{cid}"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_malformed_input_is_a_4xx_problem_and_changes_nothing(
    scene: Scene, case: tuple[str, str, bytes, dict[str, str]]
) -> None:
    method, path, body, headers = case
    codec = JwtTokenCodec(scene.api.settings.token_secret or "")
    forged = JwtTokenCodec("forger-" + "z" * 40).encode(codec.decode(scene.fan.token))
    values = {
        "{cid}": str(scene.concert_id),
        "{rid}": scene.reservation_id,
        "{user}": scene.fan.user_id,
        "{newuser}": str(uuid.uuid4()),
        "{forged}": forged,
        "{waiting}": scene.waiting.token,
        "{admin}": scene.api.storage.admin_key,
        "{lower}": scene.api.storage.admin_key.lower(),
    }

    def fill(text: str) -> str:
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    sent_headers = scene.fan.auth | {k: fill(v) for k, v in headers.items()}
    if sent_headers.get("Authorization") == "":
        del sent_headers["Authorization"]
    before = await scene.snapshot()

    reply = await scene.api.client.request(
        method,
        API + fill(path),
        content=fill(body.decode("latin-1")).encode("latin-1") if body else None,
        headers=sent_headers,
    )

    assert 400 <= reply.status_code < 500, reply.text
    assert_problem(reply, reply.status_code)
    assert await scene.snapshot() == before
