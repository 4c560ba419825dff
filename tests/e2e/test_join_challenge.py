"""The join challenge over HTTP (docs/contract.md §9): the challenge route, a join that
needs a proof, a proof good once across concurrent requests, a re-join that needs none.
Challenges have the default cost (``maxnumber`` 50,000): the tests solve them as a
client does."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.parse
import uuid
from typing import Any

import httpx
import pytest

from e2e.helpers import API, Api, assert_problem
from support import solve_challenge


async def challenge_for(api: Api, concert_id: int) -> dict[str, Any]:
    reply = await api.client.get(f"{API}/queue/challenge", params={"concert_id": concert_id})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


async def proof_for(api: Api, concert_id: int) -> str:
    return solve_challenge(await challenge_for(api, concert_id))


async def join(
    api: Api, concert_id: int, proof: Any = None, user_id: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"user_id": user_id or str(uuid.uuid4()), "concert_id": concert_id}
    if proof is not None:
        body["proof"] = proof
    return await api.client.post(f"{API}/queue/tokens", json=body)


async def line(api: Api, concert_id: int) -> dict[str, int]:
    """The concert's live WAITING and ACTIVE tokens, as the operator sees them."""
    reply = await api.admin("GET", f"/concerts/{concert_id}")
    assert reply.status_code == 200, reply.text
    queue: dict[str, int] = reply.json()["queue"]
    return {"waiting": queue["waiting"], "active": queue["active"]}


async def challenged(api: Api) -> int:
    view = await api.add_concert(sale={"join_challenge": True})
    concert_id: int = view["concert_id"]
    return concert_id


async def test_a_challenge_is_altcha_for_the_concert(api: Api) -> None:
    view = await api.add_concert()  # not asking for one: any concert has a challenge

    body = await challenge_for(api, view["concert_id"])

    assert body.keys() == {"algorithm", "challenge", "salt", "signature", "maxnumber"}
    assert body["algorithm"] == "SHA-256"
    assert body["maxnumber"] == 50_000
    params = urllib.parse.parse_qs(body["salt"].partition("?")[2])
    assert params["concert"] == [str(view["concert_id"])]
    expires = int(params["expires"][0])
    assert expires == int((await api.clock.now()).timestamp()) + 300


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("?concert_id=987654", 404, "NOT_FOUND"),
        ("?concert_id=0", 400, "VALIDATION_ERROR"),
        ("?concert_id=abc", 400, "VALIDATION_ERROR"),
        ("?concert_id=1.5", 400, "VALIDATION_ERROR"),
        ("?concert_id=99999999999999999999999", 400, "VALIDATION_ERROR"),
        ("", 400, "VALIDATION_ERROR"),
    ],
    ids=["unknown", "zero", "letters", "fraction", "too-big", "missing"],
)
async def test_a_challenge_for_a_bad_or_unknown_concert_is_a_problem(
    api: Api, query: str, status: int, code: str
) -> None:
    reply = await api.client.get(f"{API}/queue/challenge{query}")

    assert_problem(reply, status, code)


async def test_with_the_challenge_on_a_join_without_proof_is_403_and_adds_no_one(
    api: Api,
) -> None:
    concert_id = await challenged(api)

    reply = await join(api, concert_id)

    problem = assert_problem(reply, 403, "CHALLENGE_FAILED")
    assert problem["type"] == "urn:concert:problem:challenge-failed"
    assert await line(api, concert_id) == {"waiting": 0, "active": 0}


async def test_a_solved_proof_joins_once_and_a_rejoin_needs_none(api: Api) -> None:
    concert_id = await challenged(api)
    proof = await proof_for(api, concert_id)
    user = str(uuid.uuid4())

    joined = await join(api, concert_id, proof, user)
    replayed = await join(api, concert_id, proof)
    rejoined = await join(api, concert_id, user_id=user)

    assert joined.status_code == 201, joined.text
    assert_problem(replayed, 403, "CHALLENGE_FAILED")
    assert rejoined.status_code == 200, rejoined.text
    assert rejoined.json()["token"] == joined.json()["token"]
    assert await line(api, concert_id) == {"waiting": 1, "active": 0}


async def test_a_proof_for_another_concert_is_403(api: Api) -> None:
    concert_id = await challenged(api)
    other = await challenged(api)

    reply = await join(api, concert_id, await proof_for(api, other))

    assert_problem(reply, 403, "CHALLENGE_FAILED")


async def test_an_expired_proof_is_403(api: Api) -> None:
    concert_id = await challenged(api)
    proof = await proof_for(api, concert_id)
    api.clock.advance(300)

    assert_problem(await join(api, concert_id, proof), 403, "CHALLENGE_FAILED")


@pytest.mark.parametrize(
    "proof",
    [
        "",
        "not base64 at all",
        base64.b64encode(b"{not json").decode(),
        base64.b64encode(json.dumps([1, 2, 3]).encode()).decode(),
        base64.b64encode(json.dumps({"number": "1"}).encode()).decode(),
        "é",
        "A" * 10_000,
    ],
    ids=["empty", "text", "not-json", "list", "fields", "unicode", "long"],
)
async def test_a_malformed_proof_is_403_never_500(api: Api, proof: str) -> None:
    concert_id = await challenged(api)

    assert_problem(await join(api, concert_id, proof), 403, "CHALLENGE_FAILED")
    assert await line(api, concert_id) == {"waiting": 0, "active": 0}


@pytest.mark.parametrize("proof", [12, True, ["x"], {"a": 1}], ids=repr)
async def test_a_proof_that_is_not_a_string_is_400(api: Api, proof: Any) -> None:
    concert_id = await challenged(api)

    assert_problem(await join(api, concert_id, proof), 400, "VALIDATION_ERROR")


async def test_one_proof_sent_by_ten_fans_at_once_lets_one_in(api: Api) -> None:
    concert_id = await challenged(api)
    proof = await proof_for(api, concert_id)

    replies = await asyncio.gather(*(join(api, concert_id, proof) for _ in range(10)))

    statuses = sorted(reply.status_code for reply in replies)
    assert statuses == [201] + [403] * 9, [r.text for r in replies]
    assert await line(api, concert_id) == {"waiting": 1, "active": 0}


async def test_with_the_challenge_off_a_proof_is_not_needed_nor_read(api: Api) -> None:
    view = await api.add_concert()

    plain = await join(api, view["concert_id"])
    garbage = await join(api, view["concert_id"], "garbage")

    assert plain.status_code == garbage.status_code == 201


async def test_turning_the_challenge_on_keeps_live_tokens_and_asks_new_joins(api: Api) -> None:
    view = await api.add_concert()
    user = str(uuid.uuid4())
    first = await join(api, view["concert_id"], user_id=user)

    await api.change_sale(view["concert_id"], join_challenge=True)

    again = await join(api, view["concert_id"], user_id=user)
    assert again.status_code == 200, again.text
    assert again.json()["token"] == first.json()["token"]
    assert_problem(await join(api, view["concert_id"]), 403, "CHALLENGE_FAILED")


async def test_the_openapi_document_describes_the_route_and_the_proof(api: Api) -> None:
    schema = (await api.client.get("/schema/openapi.json")).json()

    route = schema["paths"][f"{API}/queue/challenge"]["get"]
    assert {p["name"] for p in route["parameters"]} == {"concert_id"}
    assert {"200", "404"} <= route["responses"].keys()
    assert "403" in schema["paths"][f"{API}/queue/tokens"]["post"]["responses"]
    request = schema["components"]["schemas"]["IssueTokenRequest"]
    assert "proof" in request["properties"]
    assert "proof" not in request.get("required", [])
