"""Every row of the error table (docs/contract.md §4), produced by an HTTP request: RFC
9457 problems."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, cast

import attrs
import jwt
import pytest

from adapters.tokens import JwtTokenCodec
from concert_core.domain import (
    Concert,
    ConcertId,
    DomainError,
    ServiceUnavailableError,
    TokenClaims,
    TokenId,
    UserId,
)
from concert_core.ports import UnitOfWorkFactory
from e2e.helpers import API, Api, assert_problem
from entrypoints.container import build_service
from entrypoints.http.errors import PROBLEMS
from support import GatedUnitOfWorkFactory


def test_every_domain_error_has_an_http_status() -> None:
    def subclasses(cls: type[DomainError]) -> set[type[DomainError]]:
        found = set(cls.__subclasses__())
        return found.union(*(subclasses(c) for c in found))

    codes = {error.code for error in subclasses(DomainError)}
    assert codes <= PROBLEMS.keys()
    assert {PROBLEMS[c].status for c in codes} == {400, 401, 402, 403, 404, 409, 410, 422, 503}


async def test_validation_error_seat_number_outside_1_to_50(api: Api, concert: Concert) -> None:
    fan = await api.active_fan(concert.concert_id)

    reply = await api.hold(fan, concert.concert_id, 51)

    body = assert_problem(reply, 400, "VALIDATION_ERROR")
    assert body["type"] == "urn:concert:problem:validation-error"
    assert body["title"] == "Invalid request"
    assert "seat_no" in body["detail"]


async def test_validation_error_bad_amount(api: Api) -> None:
    reply = await api.charge(str(uuid.uuid4()), 10_000_001)

    assert_problem(reply, 400, "VALIDATION_ERROR")


async def test_validation_error_bad_date(api: Api, concert: Concert) -> None:
    fan = await api.active_fan(concert.concert_id)

    reply = await api.client.get(
        f"{API}/concerts/{concert.concert_id}/dates/2026-02-30/seats", headers=fan.auth
    )

    assert_problem(reply, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a b", "Bearer not-a-jwt"],
)
async def test_token_invalid_without_a_usable_bearer_token(
    api: Api, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    reply = await api.client.get(f"{API}/queue/status", headers=headers)

    assert_problem(reply, 401, "TOKEN_INVALID")
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


async def test_token_invalid_when_forged_or_unknown(api: Api, concert: Concert) -> None:
    claims = TokenClaims(TokenId(uuid.uuid4()), UserId(uuid.uuid4()), concert.concert_id, 1)
    unknown = JwtTokenCodec(api.settings.token_secret or "").encode(claims)
    forged = JwtTokenCodec("another-secret-" + "y" * 32).encode(claims)
    unsigned = jwt.encode(
        {"sub": str(claims.user_id), "concert_id": 1, "seq": 1, "jti": str(claims.token_id)},
        key="",
        algorithm="none",
    )

    for token in (unknown, forged, unsigned):
        reply = await api.client.get(
            f"{API}/queue/status", headers={"Authorization": f"Bearer {token}"}
        )
        assert_problem(reply, 401, "TOKEN_INVALID")


@pytest.mark.parametrize(
    ("concert_id", "seq"),
    [(2**63, 1), (2**64 + 1, 1), (10**40, 1), (1, 2**63), (-1, 1), (1, -(2**63))],
)
async def test_token_invalid_when_a_signed_claim_is_out_of_range(
    api: Api, concert: Concert, concert_id: int, seq: int
) -> None:
    """Signed with the service's own secret, but naming an id storage cannot hold: 401
    on every storage family, never 500 (docs/contract.md §9)."""
    token = jwt.encode(
        {"sub": str(uuid.uuid4()), "concert_id": concert_id, "seq": seq, "jti": str(uuid.uuid4())},
        api.settings.token_secret or "",
        algorithm="HS256",
    )
    auth = {"Authorization": f"Bearer {token}"}
    replies = [
        await api.client.get(f"{API}/queue/status", headers=auth),
        await api.client.delete(f"{API}/queue/tokens/me", headers=auth),
        await api.client.get(f"{API}/concerts/{concert.concert_id}/dates", headers=auth),
        await api.client.post(
            f"{API}/reservations",
            headers=auth,
            json={"concert_id": concert.concert_id, "date": "2027-03-06", "seat_no": 1},
        ),
    ]
    for reply in replies:
        assert_problem(reply, 401, "TOKEN_INVALID")


async def test_token_not_active_while_waiting_with_status_and_position(
    api: Api, concert: Concert
) -> None:
    fan = await api.waiting_fan(concert.concert_id)

    reply = await api.client.get(f"{API}/concerts/{concert.concert_id}/dates", headers=fan.auth)

    body = assert_problem(reply, 403, "TOKEN_NOT_ACTIVE")
    assert body["token_status"] == "WAITING"
    assert body["position"] == 1


async def test_token_not_active_for_another_concert(api: Api, concert: Concert) -> None:
    other = await api.schedule()
    fan = await api.active_fan(concert.concert_id)

    reply = await api.hold(fan, other.concert_id, 1)

    body = assert_problem(reply, 403, "TOKEN_NOT_ACTIVE")
    assert body["token_status"] == "ACTIVE"
    assert body["position"] is None


async def test_token_not_active_once_expired(api: Api, concert: Concert) -> None:
    fan = await api.active_fan(concert.concert_id)
    api.clock.advance(api.service.policy.active_ttl.total_seconds())

    reply = await api.hold(fan, concert.concert_id, 1)

    body = assert_problem(reply, 403, "TOKEN_NOT_ACTIVE")
    assert body["token_status"] == "EXPIRED"
    assert body["position"] is None


async def test_not_owner_for_another_users_reservation(api: Api, concert: Concert) -> None:
    owner = await api.active_fan(concert.concert_id)
    stranger = await api.active_fan(concert.concert_id)
    reservation_id = await api.held(owner, concert.concert_id, 5)

    shown = await api.client.get(f"{API}/reservations/{reservation_id}", headers=stranger.auth)
    released = await api.client.delete(
        f"{API}/reservations/{reservation_id}", headers=stranger.auth
    )
    paid = await api.pay(stranger, [reservation_id])

    for reply in (shown, released, paid):
        assert_problem(reply, 403, "NOT_OWNER")


async def test_not_found_for_an_unknown_concert_date_or_reservation(
    api: Api, concert: Concert
) -> None:
    fan = await api.active_fan(concert.concert_id)

    unknown_concert = await api.enter(ConcertId(concert.concert_id + 100))
    unknown_date = await api.client.get(
        f"{API}/concerts/{concert.concert_id}/dates/2027-01-01/seats", headers=fan.auth
    )
    hold_on_unknown_date = await api.hold(fan, concert.concert_id, 1, "2027-01-01")
    unknown_reservation = await api.client.get(
        f"{API}/reservations/{uuid.uuid4()}", headers=fan.auth
    )

    for reply in (unknown_concert, unknown_date, hold_on_unknown_date, unknown_reservation):
        assert_problem(reply, 404, "NOT_FOUND")


async def test_not_found_for_an_unknown_route(api: Api) -> None:
    for path in ("/nowhere", f"{API}/nowhere", f"{API}/concerts/1/nowhere", "/schema/nowhere"):
        assert_problem(await api.client.get(path), 404, "NOT_FOUND")


async def test_method_not_allowed_is_a_problem_with_allow(api: Api) -> None:
    reply = await api.client.put(f"{API}/payments", json={})

    assert_problem(reply, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in reply.headers["Allow"]


async def test_payload_too_large_is_a_problem(api: Api) -> None:
    reply = await api.client.post(
        f"{API}/users/{uuid.uuid4()}/balance/charge",
        content=b'{"amount": 1, "pad": "' + b"x" * 70_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )

    assert_problem(reply, 413, "PAYLOAD_TOO_LARGE")


async def test_seat_unavailable_when_held_or_sold_by_someone_else(
    api: Api, concert: Concert
) -> None:
    holder = await api.active_fan(concert.concert_id)
    other = await api.active_fan(concert.concert_id)
    reservation_id = await api.held(holder, concert.concert_id, 8)

    while_held = await api.hold(other, concert.concert_id, 8)
    await api.charge(holder.user_id, 1_000_000)
    assert (await api.pay(holder, [reservation_id])).status_code == 201
    once_sold = await api.hold(other, concert.concert_id, 8)

    assert_problem(while_held, 409, "SEAT_UNAVAILABLE")
    assert_problem(once_sold, 409, "SEAT_UNAVAILABLE")


async def test_hold_limit_reached(api: Api, concert: Concert) -> None:
    fan = await api.active_fan(concert.concert_id)
    for seat_no in range(1, api.service.policy.max_holds_per_user + 1):
        await api.held(fan, concert.concert_id, seat_no)

    reply = await api.hold(fan, concert.concert_id, 30)

    assert_problem(reply, 409, "HOLD_LIMIT_REACHED")


async def test_idempotency_in_progress_while_the_first_request_runs(api: Api) -> None:
    gate = GatedUnitOfWorkFactory(api.storage.uow_factory)
    storage = attrs.evolve(api.storage, uow_factory=cast(UnitOfWorkFactory, gate))
    api.app.state.service = build_service(storage, api.clock, api.settings)
    user = str(uuid.uuid4())

    gate.close()
    first = asyncio.create_task(api.charge(user, 5_000, key="slow"))
    await gate.blocked.wait()
    second = await api.charge(user, 5_000, key="slow")
    gate.open.set()
    first_reply = await first

    body = assert_problem(second, 409, "IDEMPOTENCY_IN_PROGRESS")
    assert body["title"] == "Request still in progress"
    assert int(second.headers["Retry-After"]) >= 1
    assert first_reply.status_code == 200
    assert await api.balance(user) == 5_000


async def test_idempotency_key_reused_with_a_different_body(api: Api) -> None:
    user = str(uuid.uuid4())
    assert (await api.charge(user, 1_000, key="k-1")).status_code == 200

    reply = await api.charge(user, 2_000, key="k-1")

    assert_problem(reply, 422, "IDEMPOTENCY_KEY_REUSED")
    assert await api.balance(user) == 1_000


async def test_insufficient_balance(api: Api, concert: Concert) -> None:
    fan = await api.active_fan(concert.concert_id)
    reservation_id = await api.held(fan, concert.concert_id, 11)
    await api.charge(fan.user_id, 1_000)

    reply = await api.pay(fan, [reservation_id])

    assert_problem(reply, 402, "INSUFFICIENT_BALANCE")
    assert await api.balance(fan.user_id) == 1_000


async def test_hold_expired_when_paying_a_lapsed_hold(api: Api, concert: Concert) -> None:
    fan = await api.active_fan(concert.concert_id)
    reservation_id = await api.held(fan, concert.concert_id, 11)
    await api.charge(fan.user_id, 1_000_000)
    api.clock.advance(api.service.policy.hold_ttl.total_seconds() + 1)

    reply = await api.pay(fan, [reservation_id])

    assert_problem(reply, 410, "HOLD_EXPIRED")
    assert await api.balance(fan.user_id) == 1_000_000


async def test_service_unavailable_when_the_queue_cannot_be_reached(
    api: Api, concert: Concert
) -> None:
    storage = attrs.evolve(api.storage, queue=_Unreachable())
    api.app.state.service = build_service(storage, api.clock, api.settings)

    reply = await api.enter(concert.concert_id)

    body = assert_problem(reply, 503, "SERVICE_UNAVAILABLE")
    assert body["title"] == "Service unavailable"
    assert int(reply.headers["Retry-After"]) >= 1


async def test_service_unavailable_when_the_database_cannot_be_reached(api: Api) -> None:
    storage = attrs.evolve(api.storage, uow_factory=_Unreachable())
    api.app.state.service = build_service(storage, api.clock, api.settings)

    for reply in (
        await api.client.get(f"{API}/concerts"),
        await api.charge(str(uuid.uuid4()), 100),
    ):
        assert_problem(reply, 503, "SERVICE_UNAVAILABLE")
        assert "Retry-After" in reply.headers


class _Unreachable:
    """A backend that is down: every call is SERVICE_UNAVAILABLE."""

    def __getattr__(self, name: str) -> Any:
        async def call(*args: object, **kwargs: object) -> Any:
            raise ServiceUnavailableError("the backend cannot be reached")

        return call

    def __call__(self) -> Any:
        raise ServiceUnavailableError("the database cannot be reached")


async def test_admin_key_invalid_without_the_operator_key(api: Api) -> None:
    reply = await api.admin("GET", "/concerts", headers={"Authorization": "Bearer nope"})

    assert_problem(reply, 401, "ADMIN_KEY_INVALID")
    assert reply.headers["WWW-Authenticate"] == 'Bearer realm="admin"'


async def test_date_exists_when_the_concert_already_plays_that_day(api: Api) -> None:
    concert = await api.add_concert()

    reply = await api.admin(
        "POST", f"/concerts/{concert['concert_id']}/dates", {"date": "2026-12-24", "price": 1}
    )

    assert_problem(reply, 409, "DATE_EXISTS")


async def test_sale_not_open_before_the_opening_with_its_times(api: Api) -> None:
    concert = await api.add_concert(sale={"opens_at": "2026-01-02T00:00:00Z"})

    problem = assert_problem(await api.enter(concert["concert_id"]), 409, "SALE_NOT_OPEN")

    assert problem["opens_at"] == "2026-01-02T00:00:00Z"
    assert problem["prequeue_opens_at"] is None


async def test_sale_closed_after_the_closing_with_its_phase(api: Api) -> None:
    concert = await api.add_concert(sale={"closes_at": "2026-01-01T11:00:00Z"})

    problem = assert_problem(await api.enter(concert["concert_id"]), 410, "SALE_CLOSED")

    assert problem["phase"] == "CLOSED"
