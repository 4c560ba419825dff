"""Verified identity: the JWT a fan's identity provider issued, checked with PyJWT
(docs/contract.md §9).

The algorithm a token may use is fixed by the key that verifies it, never read from
the token: a shared secret verifies HS256 only, an RSA public key RS256 only, an EC
P-256 key ES256 only. So ``alg: none`` and key confusion (an HS256 token "signed" with
the public PEM as its secret) are refused before any signature is looked at.

A JWKS (``CONCERT_IDENTITY_JWKS_URL``) is read by PyJWT's ``PyJWKClient`` (urllib,
synchronous) in a worker thread, never on the event loop. :class:`JwksKeys` keeps the
keys it read: a known ``kid`` is answered at once from the keys held, whatever their
age, with no I/O. One read at most is under way at a time, and the set is read at most
once per :data:`JWKS_COOLDOWN_SECONDS` (:data:`JWKS_RETRY_SECONDS` after a failure): a
set older than :data:`JWKS_LIFESPAN_SECONDS` is refreshed in the background, nobody
waiting for it; only a token whose ``kid`` is unknown waits for a read, and all such
tokens wait for the same one. When the provider cannot be reached, the keys already
read go on serving; a token whose key was never read is then 503, not 401: the token
may well be good (decision 16).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import jwt
from attrs import field, frozen
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.types import Options

from concert_core.domain import IdentityInvalidError, ServiceUnavailableError

LEEWAY_SECONDS = 30
"""How far the identity provider's clock and ours may disagree on ``exp``/``nbf``/``iat``."""
MIN_SECRET_BYTES = 32
MIN_RSA_BITS = 2048
JWKS_LIFESPAN_SECONDS = 300.0
"""A JWKS read this long ago is read again when next used (keys rotate)."""
JWKS_COOLDOWN_SECONDS = 30.0
"""After a successful read, the JWKS is not read again for this long, whatever the
tokens ask: an unknown ``kid`` cannot make the service hammer the provider."""
JWKS_RETRY_SECONDS = 5.0
"""After a failed read, the next attempt waits this long."""
JWKS_TIMEOUT_SECONDS = 5.0

_log = logging.getLogger(__name__)


@frozen
class Identity:
    """Who a verified identity token names."""

    user_id: uuid.UUID
    """The fan's user id: ``sub`` when it is a UUID, else derived from ``iss`` and ``sub``."""
    subject: str
    issuer: str | None


def user_id_of(subject: str, issuer: str | None) -> uuid.UUID:
    """``sub`` when it is a UUID, in any spelling ``uuid.UUID`` reads (any case, braces,
    no hyphens, ``urn:uuid:``): one UUID is one fan. Else
    ``uuid5(NAMESPACE_URL, iss + "#" + sub)``, ``iss`` empty when absent."""
    try:
        return uuid.UUID(subject)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"{issuer or ''}#{subject}")


@frozen
class SigningKey:
    """A key, and the one algorithm a token verified by it may use."""

    algorithm: str
    key: Any = field(repr=False)
    """A shared secret (bytes) or a ``cryptography`` public key."""


def load_identity_key(raw: str) -> SigningKey:
    """``CONCERT_IDENTITY_KEY``: a PEM public key (RSA of at least 2048 bits: RS256; EC
    P-256: ES256), or an X.509 certificate holding one; else a shared secret of at
    least 32 bytes (HS256). A PEM given on one line with ``\\n`` for its line breaks is
    read too. Raises ``ValueError`` saying what is wrong, never repeating the value."""
    text = raw.strip()
    if not text.startswith("-----BEGIN"):
        secret = text.encode()
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(
                f"a shared secret must be at least {MIN_SECRET_BYTES} bytes long "
                "(or give a PEM public key)"
            )
        return SigningKey("HS256", secret)
    if "\n" not in text and "\\n" in text:
        text = text.replace("\\n", "\n")
    try:
        if text.startswith("-----BEGIN CERTIFICATE-----"):
            key: Any = x509.load_pem_x509_certificate(text.encode()).public_key()
        else:
            key = serialization.load_pem_public_key(text.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError(
            "expected a PEM public key (-----BEGIN PUBLIC KEY-----) or certificate"
        ) from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise ValueError(f"an RSA key needs at least {MIN_RSA_BITS} bits")
        return SigningKey("RS256", key)
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return SigningKey("ES256", key)
    raise ValueError("expected an RSA or an EC P-256 public key")


class KeySource(Protocol):
    async def key_for(self, kid: str | None) -> SigningKey:
        """The key a token with this ``kid`` header is verified by."""
        ...


@frozen
class FixedKey:
    """One key, set by the operator; the token's ``kid`` is not looked at."""

    key: SigningKey

    async def key_for(self, kid: str | None) -> SigningKey:
        return self.key


class JwksKeys:
    """The signing keys of a JWKS, read with PyJWT's ``PyJWKClient`` off the event loop.

    Usable keys: ``use`` absent or ``sig``; ``kty`` RSA (at least 2048 bits) verifies
    RS256, ``kty`` EC on P-256 verifies ES256, and a key whose own ``alg`` says
    otherwise is skipped. A token without ``kid`` is verified by the set's only key,
    when it has just one.
    """

    def __init__(
        self,
        url: str,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        cooldown: float = JWKS_COOLDOWN_SECONDS,
        lifespan: float = JWKS_LIFESPAN_SECONDS,
        retry: float = JWKS_RETRY_SECONDS,
        timeout: float = JWKS_TIMEOUT_SECONDS,
    ) -> None:
        # The client's own caches are off: this class keeps the keys, so that a read
        # that fails leaves the keys read before in service.
        self._client = jwt.PyJWKClient(
            url,
            cache_jwk_set=False,
            timeout=timeout,
            headers={"User-Agent": "concert-reservation", "Accept": "application/json"},
        )
        self._now = monotonic
        self._cooldown = cooldown
        self._lifespan = lifespan
        self._retry = retry
        self._keys: dict[str, SigningKey] = {}
        self._only: SigningKey | None = None
        self._read_at: float | None = None
        """When the keys were last read successfully."""
        self._tried_at: float | None = None
        self._failed = False
        """Whether the last attempt to read the keys failed."""
        self._pending: asyncio.Task[None] | None = None
        """The read under way, if any: held here so that it is not collected."""
        self.reads = 0
        """How many times the JWKS was requested (tests, metrics)."""

    @property
    def pending_read(self) -> asyncio.Task[None] | None:
        """The read under way, if any (tests await it)."""
        return self._pending

    async def key_for(self, kid: str | None) -> SigningKey:
        key = self._lookup(kid)
        if key is not None:
            # Answered now, however old the set: a stale one is refreshed in the
            # background, so a hung provider never holds up a key already known.
            if not self._fresh():
                self._start_read()
            return key
        # An unknown kid may be a key rotated in: it waits for a read, the one under
        # way or a new one the cooldown allows, shared by every request that asks.
        read = self._pending or self._start_read()
        if read is not None:
            await asyncio.shield(read)  # a request given up on does not cancel the read
            key = self._lookup(kid)
            if key is not None:
                return key
        if self._failed:
            raise ServiceUnavailableError(
                "the identity provider's keys (CONCERT_IDENTITY_JWKS_URL) cannot be read"
            )
        raise IdentityInvalidError(
            "the identity token's key (kid) is not one of the identity provider's keys"
        )

    def _lookup(self, kid: str | None) -> SigningKey | None:
        if kid is None:
            return self._only
        return self._keys.get(kid)

    def _fresh(self) -> bool:
        return self._read_at is not None and self._now() - self._read_at < self._lifespan

    def _may_read(self) -> bool:
        if self._tried_at is None:
            return True
        wait = self._retry if self._failed else self._cooldown
        return self._now() - self._tried_at >= wait

    def _start_read(self) -> asyncio.Task[None] | None:
        """The read started now, unless one is under way or the cooldown forbids it."""
        if self._pending is not None or not self._may_read():
            return None
        self._tried_at = self._now()
        self.reads += 1
        task = asyncio.get_running_loop().create_task(self._read(), name="jwks-read")
        self._pending = task
        task.add_done_callback(self._read_done)
        return task

    def _read_done(self, task: asyncio.Task[None]) -> None:
        if self._pending is task:
            self._pending = None

    async def _read(self) -> None:
        """Read the set; never raises (a failure is logged and remembered)."""
        try:
            document = await asyncio.to_thread(self._client.fetch_data)
            keys = _signing_keys(document)
        except Exception as error:
            self._failed = True
            self._tried_at = self._now()
            expected = isinstance(error, jwt.PyJWTError | ValueError | OSError)
            _log.warning(
                "cannot read the identity provider's JWKS: %s", error, exc_info=not expected
            )
            return
        self._failed = False
        self._keys = keys
        self._only = next(iter(keys.values())) if len(keys) == 1 else None
        self._read_at = self._tried_at = self._now()


def _signing_keys(document: Any) -> dict[str, SigningKey]:
    """The usable signing keys of a JWKS document, by ``kid``; ``ValueError`` if none."""
    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise ValueError("the JWKS is not a JSON object with a list of keys")
    keys: dict[str, SigningKey] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig":
            continue
        kid, kty = entry.get("kid"), entry.get("kty")
        if kty == "RSA":
            algorithm = "RS256"
        elif kty == "EC" and entry.get("crv") == "P-256":
            algorithm = "ES256"
        else:
            continue
        if entry.get("alg", algorithm) != algorithm or not isinstance(kid, str):
            continue
        try:
            key = jwt.PyJWK(dict(entry), algorithm).key
        except jwt.PyJWTError:
            continue
        strong = isinstance(key, ec.EllipticCurvePublicKey) or (
            isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS
        )
        if strong:
            keys[kid] = SigningKey(algorithm, key)
    if not keys:
        raise ValueError("the JWKS holds no RS256 or ES256 signing key with a kid")
    return keys


class IdentityVerifier:
    """Checks an identity token: its signature by the key its algorithm is fixed to,
    ``exp`` and ``sub`` present, ``iss`` and ``aud`` when they are set, with a leeway
    of :data:`LEEWAY_SECONDS` on times."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str | None = None,
        audience: str | None = None,
        leeway: float = LEEWAY_SECONDS,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        required = ["exp", "sub"] + (["iss"] if issuer else []) + (["aud"] if audience else [])
        self._options: Options = {
            "require": required,
            "verify_aud": audience is not None,
            "verify_iss": issuer is not None,
        }

    async def verify(self, token: str) -> Identity:
        """The identity ``token`` names; ``IdentityInvalidError`` when it is not good,
        ``ServiceUnavailableError`` when its key cannot be read."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise IdentityInvalidError("the identity token is not a JWT") from None
        if kid is not None and not isinstance(kid, str):
            raise IdentityInvalidError("the identity token's kid is not a string")
        key = await self._keys.key_for(kid)
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options=self._options,
            )
        except (jwt.PyJWTError, ValueError) as error:
            raise IdentityInvalidError(f"the identity token is not valid: {error}") from None
        subject, issuer = claims["sub"], claims.get("iss")
        if not isinstance(subject, str) or not subject:
            raise IdentityInvalidError("the identity token's sub is not a non-empty string")
        if issuer is not None and not isinstance(issuer, str):
            raise IdentityInvalidError("the identity token's iss is not a string")
        return Identity(user_id=user_id_of(subject, issuer), subject=subject, issuer=issuer)
