"""Queue token strings as JWTs (HS256) carrying the token's claims, and a bounded
memory of verified strings in front of any codec."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from typing import Any

import jwt
import msgspec

from concert_core.domain import (
    ConcertId,
    TokenClaims,
    TokenId,
    TokenInvalidError,
    UserId,
)
from concert_core.ports import TokenCodec

_ALGORITHM = "HS256"
_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
"""The one header this codec writes, as PyJWT writes it (sorted keys, no spaces)."""
_CHECKED_BY_PYJWT = frozenset({"exp", "nbf", "iat", "aud", "iss"})
"""Registered claims PyJWT validates when present; this codec never writes them, so a
token carrying one is left to PyJWT whole."""
MIN_SECRET_BYTES = 32
MAX_CLAIM = 2**63 - 1
"""The largest id a claim may carry: storage keeps ids and sequence numbers as signed
64-bit integers, so a larger one could only fail there (docs/contract.md §9)."""
VERIFIED_KEPT = 32_768
"""How many verified token strings ``CachingTokenCodec`` keeps (about 16 MB at most)."""


class JwtTokenCodec:
    """Signs claims as an HS256 JWT: ``sub`` (user), ``concert_id``, ``seq``, ``jti``.

    The JWT carries no expiry: a token's state (WAITING, ACTIVE, EXPIRED) lives on the
    server, so a signed string stays a name for it, never a permit by itself.
    """

    def __init__(self, secret: str | bytes) -> None:
        key = secret.encode() if isinstance(secret, str) else secret
        if len(key) < MIN_SECRET_BYTES:
            raise ValueError(f"the token secret needs at least {MIN_SECRET_BYTES} bytes")
        self._key = key
        self._mac = hmac.new(key, digestmod=hashlib.sha256)
        """The key's HMAC state, copied for each signature instead of set up again."""

    def encode(self, claims: TokenClaims) -> str:
        # PyJWT's own HS256 JWT byte for byte (its header, the claims as its
        # ``json.dumps`` with compact separators writes them), signed here: PyJWT checks
        # its key's format again on every call (decision 12), a tenth of a join's CPU.
        payload = msgspec.json.encode(
            {
                "sub": str(claims.user_id),
                "concert_id": claims.concert_id,
                "seq": claims.sequence,
                "jti": str(claims.token_id),
            }
        )
        signing_input = f"{_HEADER}.{_b64(payload)}"
        return f"{signing_input}.{_b64(self._sign(signing_input.encode()))}"

    def _sign(self, signing_input: bytes) -> bytes:
        mac = self._mac.copy()
        mac.update(signing_input)
        return mac.digest()

    def decode(self, token: str) -> TokenClaims:
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise TokenInvalidError("a queue token is required")
        payload = self._own(token)
        if payload is None:  # not as this codec writes them: PyJWT judges it whole
            if not _canonical_signature(token):
                # One signed token is one string, whichever PyJWT is installed (older
                # ones decode base64 leniently): see _own.
                raise TokenInvalidError("the token is malformed or its signature is wrong")
            try:
                payload = jwt.decode(
                    token,
                    self._key,
                    algorithms=[_ALGORITHM],
                    options={"require": ["sub", "concert_id", "seq", "jti"]},
                )
            except (jwt.PyJWTError, ValueError, TypeError, AttributeError) as error:
                raise TokenInvalidError(
                    "the token is malformed or its signature is wrong"
                ) from error
        try:
            concert, sequence = payload["concert_id"], payload["seq"]
            if not all(type(v) is int and 1 <= v <= MAX_CLAIM for v in (concert, sequence)):
                raise TokenInvalidError("the token's claims are malformed")
            return TokenClaims(
                token_id=TokenId(uuid.UUID(payload["jti"])),
                user_id=UserId(uuid.UUID(payload["sub"])),
                concert_id=ConcertId(concert),
                sequence=sequence,
            )
        except (KeyError, ValueError, TypeError, AttributeError) as error:
            raise TokenInvalidError("the token is malformed or its signature is wrong") from error

    def _own(self, token: str) -> dict[str, Any] | None:
        """The claims of a token in this codec's own shape (its header, three parts, a
        good signature, all four claims and no claim PyJWT would validate), checked as
        PyJWT checks them; None for anything else, which PyJWT then judges."""
        header, _, rest = token.partition(".")
        payload_part, dot, signature_part = rest.partition(".")
        if header != _HEADER or not dot or "." in signature_part or not token.isascii():
            return None
        # The signature compared as written, in constant time: only the one spelling
        # this codec writes passes here (base64 decoding is lenient: padding, digits
        # outside the alphabet and the last digit's unused bits would let one token be
        # written many ways, which PyJWT refuses too).
        signing_input = token[: len(header) + 1 + len(payload_part)].encode()
        if not hmac.compare_digest(_b64(self._sign(signing_input)), signature_part):
            return None
        try:
            payload = msgspec.json.decode(_unb64(payload_part))
        except (binascii.Error, ValueError, msgspec.DecodeError):
            return None
        if not isinstance(payload, dict) or not payload.keys() >= _REQUIRED:
            return None
        if not _CHECKED_BY_PYJWT.isdisjoint(payload.keys()):
            return None
        if not (isinstance(payload["sub"], str) and isinstance(payload["jti"], str)):
            return None
        return payload


_REQUIRED = frozenset({"sub", "concert_id", "seq", "jti"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _canonical_signature(token: str) -> bool:
    """Whether the token's last part is base64url written as a signature is written:
    no padding, no other character, no unused bits set in its last digit."""
    signature = token.rpartition(".")[2]
    if len(signature) % 4 == 1 or not _BASE64URL.issuperset(signature):
        return False
    return _b64(_unb64(signature)) == signature


def _unb64(part: str) -> bytes:
    """PyJWT's base64url decoding: the padding put back, then URL-safe base64."""
    raw = part.encode()
    return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))


class CachingTokenCodec:
    """Remembers the claims of token strings another codec verified (decision 12).

    A waiting fan polls with the same string every few seconds, and checking an HS256
    signature and parsing its JSON was a tenth of a status poll's CPU. Only verified
    strings are kept, so a forgery is checked (and refused) every time; at most
    ``kept`` are kept, the oldest let go first.
    """

    def __init__(self, codec: TokenCodec, kept: int = VERIFIED_KEPT) -> None:
        if kept < 1:
            raise ValueError("a token cache keeps at least one token")
        self._codec = codec
        self._kept = kept
        self._verified: dict[str, TokenClaims] = {}

    def encode(self, claims: TokenClaims) -> str:
        return self._codec.encode(claims)

    def decode(self, token: str) -> TokenClaims:
        if isinstance(token, str) and (known := self._verified.get(token)) is not None:
            return known
        claims = self._codec.decode(token)
        if len(self._verified) >= self._kept:
            del self._verified[next(iter(self._verified))]  # the oldest first
        self._verified[token] = claims
        return claims
