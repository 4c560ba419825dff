"""Verified identity over HTTP (docs/contract.md §9): with it on, joining the line and
every ``/users/{user_id}/...`` route need the identity provider's token and act only
for the user it names; a refusal changes nothing. With it off, nothing changes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from dependency_injector import providers
from litestar.connection import ASGIConnection

from adapters.clock import ManualClock
from concert_core import Policy
from concert_core.domain import Concert
from e2e.helpers import API, Api, Fan, OpenApi, assert_problem, running
from entrypoints.container import Container, build_identity
from entrypoints.http import create_app
from entrypoints.http.identity import verified_user
from entrypoints.settings import MEMORY_URL, Settings
from identity_support import (
    AUDIENCE,
    ISSUER,
    SECRET,
    JwksServer,
    ProviderKeys,
    claims,
    hs256_with,
    mint,
    provider_keys,
    serving_jwks,
    unsigned,
)
from support import schedule


@pytest.fixture
def keys() -> ProviderKeys:
    return provider_keys()


@pytest.fixture
async def api(open_api: OpenApi, policy: Policy) -> AsyncIterator[Api]:
    """The app with identity on: HS256 with the shared secret, issuer and audience set."""
    async with open_api(
        policy, identity_key=SECRET, identity_issuer=ISSUER, identity_audience=AUDIENCE
    ) as opened:
        yield opened


def identity_of(user: uuid.UUID | str, **more: Any) -> dict[str, str]:
    token = mint(claims(str(user), iss=ISSUER, aud=AUDIENCE, **more), SECRET, "HS256")
    return {"Authorization": f"Bearer {token}"}


async def join(
    api: Api,
    concert: Concert,
    user: uuid.UUID | str,
    headers: dict[str, str] | dict[str, str | bytes] | None = None,
) -> httpx.Response:
    body = {"user_id": str(user), "concert_id": concert.concert_id}
    return await api.client.post(f"{API}/queue/tokens", json=body, headers=headers or {})


async def waiting_count(api: Api, concert: Concert) -> int:
    stats = await api.storage.queue.stats(concert.concert_id, await api.clock.now())
    return stats.waiting


async def test_joining_with_the_identitys_own_user_id_is_201(api: Api, concert: Concert) -> None:
    fan = uuid.uuid4()
    reply = await join(api, concert, fan, identity_of(fan))
    assert reply.status_code == 201, reply.text
    assert reply.json()["user_id"] == str(fan)
    again = await join(api, concert, fan, identity_of(fan))
    assert again.status_code == 200, again.text  # the same live token, as without identity
    assert again.json()["token"] == reply.json()["token"]


async def test_joining_with_a_non_uuid_sub_uses_the_derived_user_id(
    api: Api, concert: Concert
) -> None:
    derived = uuid.uuid5(uuid.NAMESPACE_URL, ISSUER + "#google-oauth2|1234")
    headers = identity_of("google-oauth2|1234")
    assert (await join(api, concert, derived, headers)).status_code == 201
    refused = await join(api, concert, uuid.uuid4(), headers)
    assert_problem(refused, 403, "NOT_OWNER")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "Bearer two words",
        b"Bearer \xff\xfe.\x80",
    ],
)
async def test_joining_without_a_good_identity_token_is_401_and_changes_nothing(
    api: Api, concert: Concert, authorization: str | bytes | None
) -> None:
    headers: dict[str, str | bytes] = {}
    if authorization is not None:
        headers["Authorization"] = authorization
    reply = await join(api, concert, uuid.uuid4(), headers)
    assert_problem(reply, 401, "IDENTITY_INVALID")
    assert reply.headers["WWW-Authenticate"] == 'Bearer realm="identity"'
    assert await waiting_count(api, concert) == 0


async def test_forged_expired_or_foreign_identity_tokens_are_401(
    api: Api, concert: Concert, keys: ProviderKeys
) -> None:
    fan = uuid.uuid4()
    good = claims(str(fan), iss=ISSUER, aud=AUDIENCE)
    tokens = {
        "forged": mint(good, "a-different-secret-that-is-long-enough!", "HS256"),
        "expired": mint(claims(str(fan), lifetime=-300, iss=ISSUER, aud=AUDIENCE), SECRET, "HS256"),
        "no exp": mint(claims(str(fan), exp=None, iss=ISSUER, aud=AUDIENCE), SECRET, "HS256"),
        "wrong issuer": mint(good | {"iss": "https://evil.test/"}, SECRET, "HS256"),
        "wrong audience": mint(good | {"aud": "another-service"}, SECRET, "HS256"),
        "alg none": unsigned(good),
        "RS256 to an HS256 service": mint(good, keys.rsa, "RS256"),
        "HS256 signed with the secret as text but the claims swapped": hs256_with(
            good | {"sub": str(uuid.uuid4())}, b"wrong-secret-" * 3
        ),
    }
    for name, token in tokens.items():
        reply = await join(api, concert, fan, {"Authorization": f"Bearer {token}"})
        assert reply.status_code == 401, name
        assert_problem(reply, 401, "IDENTITY_INVALID")
    assert await waiting_count(api, concert) == 0


async def test_joining_for_another_user_is_403_and_issues_nothing(
    api: Api, concert: Concert
) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    reply = await join(api, concert, other, identity_of(me))
    assert_problem(reply, 403, "NOT_OWNER")
    assert await waiting_count(api, concert) == 0
    # The other fan, with their own identity, gets a new token: none was made for them.
    assert (await join(api, concert, other, identity_of(other))).status_code == 201


async def test_a_malformed_body_is_still_400_with_a_good_identity(
    api: Api, concert: Concert
) -> None:
    me = uuid.uuid4()
    reply = await api.client.post(
        f"{API}/queue/tokens",
        json={"user_id": "not-a-uuid", "concert_id": concert.concert_id},
        headers=identity_of(me),
    )
    assert_problem(reply, 400, "VALIDATION_ERROR")


async def _active_fan(api: Api, concert: Concert, user: uuid.UUID) -> Fan:
    reply = await join(api, concert, user, identity_of(user))
    assert reply.status_code == 201, reply.text
    fan = Fan(str(user), reply.json()["token"])
    await api.service.admit_waiting(concert.concert_id)
    assert (await api.status(fan)).json()["status"] == "ACTIVE"
    return fan


async def test_a_whole_journey_with_identity_on(api: Api, concert: Concert) -> None:
    """Join with the identity; the queue-token routes take the queue token as before; the
    wallet and the history take the identity."""
    me = uuid.uuid4()
    fan = await _active_fan(api, concert, me)
    reservation = await api.held(fan, concert.concert_id, 1)
    charge = await api.client.post(
        f"{API}/users/{me}/balance/charge", json={"amount": 1_000_000}, headers=identity_of(me)
    )
    assert charge.status_code == 200, charge.text
    paid = await api.pay(fan, [reservation])
    assert paid.status_code == 201, paid.text
    history = await api.client.get(f"{API}/users/{me}/payments", headers=identity_of(me))
    assert history.status_code == 200, history.text
    assert [p["payment_id"] for p in history.json()] == [paid.json()["payment_id"]]
    balance = await api.client.get(f"{API}/users/{me}/balance", headers=identity_of(me))
    assert balance.json()["balance"] == paid.json()["balance"]


async def test_every_users_route_of_another_fan_is_403_and_changes_nothing(
    api: Api, concert: Concert
) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    other_fan = await _active_fan(api, concert, other)
    topped = await api.client.post(
        f"{API}/users/{other}/balance/charge", json={"amount": 500_000}, headers=identity_of(other)
    )
    assert topped.status_code == 200, topped.text
    reservation = await api.held(other_fan, concert.concert_id, 2)
    assert (await api.pay(other_fan, [reservation])).status_code == 201

    def read_back() -> list[tuple[str, str]]:
        return [("GET", f"{API}/users/{other}/balance"), ("GET", f"{API}/users/{other}/payments")]

    async def what_other_sees() -> list[Any]:
        return [
            (await api.client.request(m, p, headers=identity_of(other))).json()
            for m, p in read_back()
        ]

    before = await what_other_sees()
    attempts = [
        *read_back(),
        ("POST", f"{API}/users/{other}/balance/charge"),
    ]
    for method, path in attempts:
        for headers in (identity_of(me), identity_of(me) | {"Idempotency-Key": "k-1"}):
            body = {"amount": 1_000} if method == "POST" else None
            reply = await api.client.request(method, path, json=body, headers=headers)
            assert_problem(reply, 403, "NOT_OWNER")
            unauthenticated = await api.client.request(method, path, json=body)
            assert_problem(unauthenticated, 401, "IDENTITY_INVALID")
    assert await what_other_sees() == before


async def test_a_malformed_user_id_in_the_path_is_400_after_the_identity(api: Api) -> None:
    reply = await api.client.get(
        f"{API}/users/not-a-uuid/balance", headers=identity_of(uuid.uuid4())
    )
    assert_problem(reply, 400, "VALIDATION_ERROR")
    anonymous = await api.client.get(f"{API}/users/not-a-uuid/balance")
    assert_problem(anonymous, 401, "IDENTITY_INVALID")


async def test_routes_that_act_for_nobody_need_no_identity(api: Api, concert: Concert) -> None:
    assert (await api.client.get(f"{API}/concerts")).status_code == 200
    assert (await api.client.get("/health")).status_code == 200
    assert (await api.client.get(f"{API}/queue/status")).status_code == 401  # TOKEN_INVALID
    reply = await api.client.get(f"{API}/queue/status")
    assert_problem(reply, 401, "TOKEN_INVALID")


# --- the other key kinds -------------------------------------------------------------------


async def test_an_rs256_pem_key_verifies_joins(
    open_api: OpenApi, policy: Policy, keys: ProviderKeys
) -> None:
    async with open_api(policy, identity_key=keys.rsa_pem) as api:
        concert = await api.schedule()
        fan = uuid.uuid4()
        token = mint(claims(str(fan)), keys.rsa, "RS256")
        assert (
            await join(api, concert, fan, {"Authorization": f"Bearer {token}"})
        ).status_code == 201
        confused = hs256_with(claims(str(fan)), keys.rsa_pem.encode())
        reply = await join(api, concert, fan, {"Authorization": f"Bearer {confused}"})
        assert_problem(reply, 401, "IDENTITY_INVALID")


@pytest.fixture
def jwks(keys: ProviderKeys) -> Iterator[JwksServer]:
    with serving_jwks([keys.ec_jwk("ec-1"), keys.rsa_jwk("rsa-1")]) as served:
        yield served


async def test_es256_by_a_jwks_verifies_joins_and_an_unknown_kid_is_401(
    open_api: OpenApi, policy: Policy, keys: ProviderKeys, jwks: JwksServer
) -> None:
    async with open_api(policy, identity_jwks_url=jwks.url, identity_issuer=ISSUER) as api:
        concert = await api.schedule()
        fan = uuid.uuid4()
        token = mint(claims(str(fan), iss=ISSUER), keys.ec, "ES256", kid="ec-1")
        reply = await join(api, concert, fan, {"Authorization": f"Bearer {token}"})
        assert reply.status_code == 201, reply.text
        unknown = mint(claims(str(fan), iss=ISSUER), keys.ec, "ES256", kid="ec-404")
        refused = await join(api, concert, fan, {"Authorization": f"Bearer {unknown}"})
        assert_problem(refused, 401, "IDENTITY_INVALID")
        assert jwks.requests == 1


async def test_a_jwks_that_cannot_be_read_is_503_not_401(
    open_api: OpenApi, policy: Policy, keys: ProviderKeys, jwks: JwksServer
) -> None:
    jwks.down = True
    async with open_api(policy, identity_jwks_url=jwks.url) as api:
        concert = await api.schedule()
        fan = uuid.uuid4()
        token = mint(claims(str(fan)), keys.ec, "ES256", kid="ec-1")
        reply = await join(api, concert, fan, {"Authorization": f"Bearer {token}"})
        assert_problem(reply, 503, "SERVICE_UNAVAILABLE")
        assert reply.headers["Retry-After"] == "5"
        assert await waiting_count(api, concert) == 0


# --- identity off --------------------------------------------------------------------------


async def test_with_identity_off_user_ids_are_taken_on_trust(
    open_api: OpenApi, policy: Policy
) -> None:
    async with open_api(policy) as api:
        concert = await api.schedule()
        garbage = {"Authorization": "Bearer not-a-jwt"}
        assert (await join(api, concert, uuid.uuid4(), garbage)).status_code == 201
        other = uuid.uuid4()
        reply = await api.client.get(f"{API}/users/{other}/balance", headers=garbage)
        assert reply.status_code == 200, reply.text


# --- the verified user id, for whatever else needs it ------------------------------------


async def test_a_request_is_verified_once_and_its_user_id_kept_on_its_state(
    clock: ManualClock,
) -> None:
    """The guard and the join's body check share one verification; ``verified_user``
    gives what a per-fan rate limit would key on, verifying at most once per request."""
    settings = Settings(database_url=MEMORY_URL, identity_key=SECRET)
    real = build_identity(settings)
    assert real is not None
    calls: list[str] = []

    class Counting:
        async def verify(self, token: str) -> Any:
            calls.append(token)
            return await real.verify(token)

    container = Container(settings=settings)
    container.clock.override(providers.Object(clock))
    container.identity.override(providers.Object(Counting()))
    app = create_app(settings, container=container)
    fan = uuid.uuid4()
    token = mint(claims(str(fan)), SECRET, "HS256")
    async with running(app):
        concert = await schedule(app.state.service)
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            body = {"user_id": str(fan), "concert_id": concert.concert_id}
            reply = await client.post(
                f"{API}/queue/tokens", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert reply.status_code == 201, reply.text
        assert calls == [token]  # the guard verified; the body check reused it

        scope: dict[str, Any] = {
            "type": "http",
            "litestar_app": app,
            "headers": [(b"authorization", f"Bearer {token}".encode())],
            "state": {},
        }
        connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)  # type: ignore[arg-type]
        assert await verified_user(connection) == fan
        assert await verified_user(connection) == fan
        assert calls == [token, token]


async def test_verified_user_is_none_with_identity_off() -> None:
    app = create_app(Settings(database_url=MEMORY_URL))
    scope: dict[str, Any] = {"type": "http", "litestar_app": app, "headers": [], "state": {}}
    connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)  # type: ignore[arg-type]
    assert await verified_user(connection) is None
    assert app.guards == []
