"""The token codecs on their own: the JWT codec's key and its tokens, which are PyJWT's
own, and the caching codec's bounded memory of verified tokens (the TokenCodec contract
both keep is in contract/test_token_codec.py)."""

from __future__ import annotations

import uuid

import jwt
import pytest

from adapters.tokens import CachingTokenCodec, JwtTokenCodec
from concert_core.domain import ConcertId, TokenClaims, TokenId, TokenInvalidError, UserId

SECRET = "codec-secret-" + "s" * 64


def claims(sequence: int = 42) -> TokenClaims:
    return TokenClaims(
        token_id=TokenId(uuid.uuid4()),
        user_id=UserId(uuid.uuid4()),
        concert_id=ConcertId(7),
        sequence=sequence,
    )


def test_a_jwt_codec_refuses_a_short_secret() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        JwtTokenCodec("too-short")


class _CountingCodec:
    """A codec that counts the strings it is asked to verify."""

    def __init__(self, codec: JwtTokenCodec) -> None:
        self.codec = codec
        self.verified: list[str] = []

    def encode(self, claims: TokenClaims) -> str:
        return self.codec.encode(claims)

    def decode(self, token: str) -> TokenClaims:
        self.verified.append(token)
        return self.codec.decode(token)


def test_verified_tokens_are_remembered_within_a_bound_and_forgeries_never() -> None:
    inner = _CountingCodec(JwtTokenCodec(SECRET))
    codec = CachingTokenCodec(inner, kept=3)
    issued = [codec.encode(claims(sequence=n)) for n in range(1, 6)]
    for token in issued:
        assert codec.decode(token).sequence == issued.index(token) + 1
    assert codec.decode(issued[4]).sequence == 5  # remembered: not verified again
    assert len(inner.verified) == 5
    assert codec.decode(issued[0]).sequence == 1  # the oldest was let go: verified again
    assert len(inner.verified) == 6
    header, payload, signature = issued[4].split(".")
    forged = ".".join(
        [header, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")]
    )
    for _ in range(2):
        with pytest.raises(TokenInvalidError):
            codec.decode(forged)
    assert inner.verified.count(forged) == 2  # a forgery is checked every time
    other = CachingTokenCodec(JwtTokenCodec("another-secret-" + "x" * 32))
    with pytest.raises(TokenInvalidError):
        other.decode(issued[4])  # remembered by one codec, not by another key


def test_a_jwt_codec_signs_exactly_as_pyjwt_does() -> None:
    """Any JWT library verifies our tokens: they are PyJWT's own HS256 JWTs, byte for
    byte, though the key is checked once instead of on every signature."""
    codec = JwtTokenCodec(SECRET)
    for sequence in (1, 2, 10**9):
        signed = claims(sequence=sequence)
        expected = jwt.encode(
            {
                "sub": str(signed.user_id),
                "concert_id": signed.concert_id,
                "seq": signed.sequence,
                "jti": str(signed.token_id),
            },
            SECRET.encode(),
            algorithm="HS256",
        )
        assert codec.encode(signed) == expected
        assert jwt.decode(expected, SECRET.encode(), algorithms=["HS256"])["seq"] == sequence


def test_a_token_in_another_shape_is_judged_by_pyjwt_whole() -> None:
    """The codec checks its own tokens itself; any other shape of a token signed with
    its key (another header, a claim PyJWT validates) is PyJWT's to judge, as before."""
    codec = JwtTokenCodec(SECRET)
    signed = claims(sequence=9)
    payload = {
        "sub": str(signed.user_id),
        "concert_id": signed.concert_id,
        "seq": signed.sequence,
        "jti": str(signed.token_id),
    }
    with_kid = jwt.encode(payload, SECRET.encode(), algorithm="HS256", headers={"kid": "k1"})
    assert codec.decode(with_kid) == signed
    lapsed = jwt.encode({**payload, "exp": 1_000_000}, SECRET.encode(), algorithm="HS256")
    with pytest.raises(TokenInvalidError):
        codec.decode(lapsed)  # PyJWT refuses an expired token; the codec does too
    for missing in ("sub", "jti", "seq"):
        partial = {k: v for k, v in payload.items() if k != missing}
        with pytest.raises(TokenInvalidError):
            codec.decode(jwt.encode(partial, SECRET.encode(), algorithm="HS256"))
    non_text = jwt.encode({**payload, "jti": 5}, SECRET.encode(), algorithm="HS256")
    with pytest.raises(TokenInvalidError):
        codec.decode(non_text)


def test_a_token_spelt_otherwise_than_signed_is_refused() -> None:
    """One signed token is one string: its signature re-spelt (the unused low bits of
    the last base64 digit changed, characters outside base64url or padding added) is
    refused, whichever PyJWT is installed (2.15 refuses all but the padded spelling;
    older ones decode base64 leniently). Otherwise one token becomes any number of
    strings, each verified and remembered apart."""
    codec = JwtTokenCodec(SECRET)
    token = codec.encode(claims(sequence=5))
    header, payload, signature = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    respelt = [f"{header}.{payload}.{signature[:-1]}{digit}" for digit in alphabet]
    respelt += [
        f"{token}!",
        f"{token}!!",
        f"{token}==",
        f"{token}=",
        f"{token}\n",
        f"{header}.{payload}.{signature[:10]}*{signature[10:]}",
        f"{header}.{payload}.+{signature}",
    ]
    # A token in another shape, which PyJWT judges, likewise.
    signed = claims(sequence=6)
    other = jwt.encode(
        {
            "sub": str(signed.user_id),
            "concert_id": signed.concert_id,
            "seq": signed.sequence,
            "jti": str(signed.token_id),
        },
        SECRET.encode(),
        algorithm="HS256",
        headers={"kid": "k1"},
    )
    other_signature = other.rpartition(".")[2]
    respelt += [f"{other}=", f"{other}!", f"{other[: -len(other_signature)]}{other_signature}*"]
    for variant in respelt:
        if variant == token:
            continue
        with pytest.raises(TokenInvalidError):
            codec.decode(variant)
    assert codec.decode(token).sequence == 5
    assert codec.decode(other) == signed
