"""Queue token strings as JWTs (HS256) carrying the token's claims, and a bounded
memory of verified strings in front of any codec."""

from __future__ import annotations

import json
import uuid

import jwt
from jwt.algorithms import HMACAlgorithm

from concert_core.domain import (
    ConcertId,
    TokenClaims,
    TokenId,
    TokenInvalidError,
    UserId,
)
from concert_core.ports import TokenCodec

_ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
MAX_CLAIM = 2**63 - 1
"""The largest id a claim may carry: storage keeps ids and sequence numbers as signed
64-bit integers, so a larger one could only fail there (docs/contract.md §9)."""
VERIFIED_KEPT = 32_768
"""How many verified token strings ``CachingTokenCodec`` keeps (about 16 MB at most)."""


class _CheckedKeyHS256(HMACAlgorithm):
    """HS256 with its one key checked once (decision 12). PyJWT checks an HMAC key again on every
    call (not PEM, not SSH, not DER, not a JWK: four parsers), which was a twentieth
    of a token issue's CPU; the key never changes, so neither does the answer."""

    def __init__(self, key: bytes) -> None:
        super().__init__(HMACAlgorithm.SHA256)
        self._key = key
        self._prepared = super().prepare_key(key)

    def prepare_key(self, key: str | bytes) -> bytes:
        if key == self._key:
            return self._prepared
        return super().prepare_key(key)


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
        self._signer = jwt.PyJWS(algorithms=[])
        self._signer.register_algorithm(_ALGORITHM, _CheckedKeyHS256(key))

    def encode(self, claims: TokenClaims) -> str:
        payload = {
            "sub": str(claims.user_id),
            "concert_id": claims.concert_id,
            "seq": claims.sequence,
            "jti": str(claims.token_id),
        }
        # The claims as PyJWT would serialise them, signed by PyJWS with the checked key.
        body = json.dumps(payload, separators=(",", ":")).encode()
        return self._signer.encode(body, self._key, algorithm=_ALGORITHM)

    def decode(self, token: str) -> TokenClaims:
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise TokenInvalidError("a queue token is required")
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                options={"require": ["sub", "concert_id", "seq", "jti"]},
            )
            concert, sequence = payload["concert_id"], payload["seq"]
            if not all(type(v) is int and 1 <= v <= MAX_CLAIM for v in (concert, sequence)):
                raise TokenInvalidError("the token's claims are malformed")
            return TokenClaims(
                token_id=TokenId(uuid.UUID(payload["jti"])),
                user_id=UserId(uuid.UUID(payload["sub"])),
                concert_id=ConcertId(concert),
                sequence=sequence,
            )
        except (jwt.PyJWTError, ValueError, TypeError, AttributeError) as error:
            raise TokenInvalidError("the token is malformed or its signature is wrong") from error


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
