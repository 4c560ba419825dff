"""TokenCodec: signs queue token claims and refuses anything it did not sign.

What each codec does beyond the contract is tested in adapters/tokens/.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid

import jwt
import pytest

from adapters.tokens import CachingTokenCodec, JwtTokenCodec
from concert_core.domain import ConcertId, TokenClaims, TokenId, TokenInvalidError, UserId
from concert_core.ports import TokenCodec

SECRET = "contract-secret-" + "s" * 64
OTHER_SECRET = "another-secret-" + "o" * 64

CODECS = ["jwt", "caching-jwt"]


@pytest.fixture(params=CODECS, ids=CODECS)
def codec(request: pytest.FixtureRequest) -> TokenCodec:
    if request.param == "jwt":
        return JwtTokenCodec(SECRET)
    if request.param == "caching-jwt":
        return CachingTokenCodec(JwtTokenCodec(SECRET))
    raise ValueError(f"no codec called {request.param!r}")  # pragma: no cover


def claims(concert_id: int = 7, sequence: int = 42) -> TokenClaims:
    return TokenClaims(
        token_id=TokenId(uuid.uuid4()),
        user_id=UserId(uuid.uuid4()),
        concert_id=ConcertId(concert_id),
        sequence=sequence,
    )


def signed(payload: dict[str, object], secret: str = SECRET, algorithm: str = "HS256") -> str:
    """A JWT signed with the codec's own secret but carrying ``payload`` as given."""
    return jwt.encode(payload, secret, algorithm=algorithm)


def good_payload() -> dict[str, object]:
    c = claims()
    return {"sub": str(c.user_id), "concert_id": 7, "seq": 42, "jti": str(c.token_id)}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_claims_survive_a_round_trip(codec: TokenCodec) -> None:
    for original in (
        claims(),
        claims(concert_id=1, sequence=1),
        claims(2**62, 10**15),
        claims(2**63 - 1, 2**63 - 1),
    ):
        token = codec.encode(original)
        assert isinstance(token, str)
        assert codec.decode(token) == original
    first, second = claims(), claims()
    assert codec.encode(first) != codec.encode(second)


def test_a_forged_signature_a_tampered_payload_or_another_secret_is_invalid(
    codec: TokenCodec,
) -> None:
    header, payload, signature = codec.encode(claims(concert_id=7)).split(".")
    forged = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    tampered = b64(json.dumps({**good_payload(), "concert_id": 8}).encode())
    candidates = [
        f"{header}.{payload}.{forged}",
        f"{header}.{tampered}.{signature}",
        JwtTokenCodec(OTHER_SECRET).encode(claims()),
        signed(good_payload(), secret=OTHER_SECRET),
    ]
    for candidate in candidates:
        with pytest.raises(TokenInvalidError):
            codec.decode(candidate)


@pytest.mark.parametrize(
    "garbage",
    ["", "x", "a.b.c", "...", "Bearer abc", "ö.ü.ä", "eyJ" + "A" * 5000, "null", "{}"],
)
def test_garbage_is_invalid(codec: TokenCodec, garbage: str) -> None:
    with pytest.raises(TokenInvalidError):
        codec.decode(garbage)


def test_an_unsigned_or_differently_signed_token_is_invalid(codec: TokenCodec) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = b64(json.dumps(good_payload()).encode())
    with pytest.raises(TokenInvalidError):
        codec.decode(f"{header}.{body}.")
    with pytest.raises(TokenInvalidError):
        codec.decode(signed(good_payload(), algorithm="HS512"))


@pytest.mark.parametrize("missing", ["sub", "concert_id", "seq", "jti"])
def test_a_token_missing_a_claim_is_invalid(codec: TokenCodec, missing: str) -> None:
    payload = good_payload()
    del payload[missing]
    with pytest.raises(TokenInvalidError):
        codec.decode(signed(payload))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("concert_id", "7"),
        ("concert_id", 7.0),
        ("concert_id", True),
        ("concert_id", None),
        ("concert_id", 0),
        ("concert_id", -7),
        ("concert_id", [7]),
        ("concert_id", 2**63),
        ("concert_id", 2**64 + 7),
        ("concert_id", 10**30),
        ("seq", "42"),
        ("seq", 0),
        ("seq", -1),
        ("seq", 2**63),
        ("sub", "not-a-uuid"),
        ("sub", 12345),
        ("jti", "not-a-uuid"),
        ("jti", None),
    ],
)
def test_a_token_with_a_malformed_claim_is_invalid(
    codec: TokenCodec, claim: str, value: object
) -> None:
    with pytest.raises(TokenInvalidError):
        codec.decode(signed({**good_payload(), claim: value}))


def test_a_payload_that_is_not_an_object_is_invalid(codec: TokenCodec) -> None:
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps([1, 2, 3]).encode())
    signing_input = f"{header}.{body}".encode()
    signature = b64(hmac.new(SECRET.encode(), signing_input, hashlib.sha256).digest())
    with pytest.raises(TokenInvalidError):
        codec.decode(f"{header}.{body}.{signature}")
