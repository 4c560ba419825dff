"""The one place that reads the environment: ``CONCERT_`` variables (docs/contract.md §5)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

from attrs import field, frozen

from concert_core.policy import Policy
from entrypoints import setting_values as values
from entrypoints.setting_values import IpNetwork

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./concert.db"
DEFAULT_REDIS_NAMESPACE = "concert"
DEFAULT_DATABASE_POOL_SIZE = 10
DEFAULT_REDIS_POOL_SIZE = 50
DEFAULT_JOINS_PER_MINUTE = 60
DEFAULT_JOINS_PER_FAN_PER_MINUTE = 10
DEFAULT_HEADER_TIMEOUT_SECONDS = 5.0
DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 256
DEFAULT_CHALLENGE_MAX_NUMBER = 50_000
"""The join challenge's cost (docs/contract.md §9): 25,000 hashes on average, well under
a second in a browser."""
DEFAULT_CHALLENGE_TTL = dt.timedelta(minutes=5)

MEMORY_URL = values.MEMORY_URL
"""``CONCERT_DATABASE_URL=memory://`` keeps everything in the process (demos, tests)."""

PREFIX = "CONCERT_"

_T = TypeVar("_T")


class SettingsError(ValueError):
    """A ``CONCERT_`` variable has a value the service cannot use."""


@frozen
class Settings:
    """Everything the service is configured with, read once at start-up."""

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    """Set: the waiting room and idempotency keys live in Redis (the scaled shape)."""
    redis_namespace: str = DEFAULT_REDIS_NAMESPACE
    """The prefix of every Redis key: deployments sharing one Redis keep apart."""
    database_pool_size: int = DEFAULT_DATABASE_POOL_SIZE
    """Connections each process opens to a PostgreSQL database, at most."""
    redis_pool_size: int = DEFAULT_REDIS_POOL_SIZE
    """Connections each process opens to Redis, at most."""
    token_secret: str | None = field(default=None, repr=False)
    """Unset: generated on first run and stored in the database, shared by instances."""
    admin_key: str | None = field(default=None, repr=False)
    """The operator key guarding ``/api/v1/admin``. Unset: generated on first run and
    stored in the database like the token secret (in memory: one per process)."""
    policy: Policy = field(factory=Policy)
    identity_key: str | None = field(default=None, repr=False)
    """Verified identity (docs/contract.md §9): the identity provider's HS256 shared
    secret, or its PEM public key (RS256 or ES256). Unset, with no JWKS URL: off."""
    identity_jwks_url: str | None = None
    """Verified identity by the keys the identity provider publishes (RS256, ES256)."""
    identity_issuer: str | None = None
    """Set: an identity token's ``iss`` must be this."""
    identity_audience: str | None = None
    """Set: an identity token's ``aud`` must name this."""
    rate_limit_joins_per_minute: int = DEFAULT_JOINS_PER_MINUTE
    """Joins (``POST /queue/tokens``) one client address may make in any 60 s; 0: no limit."""
    rate_limit_joins_per_fan_per_minute: int = DEFAULT_JOINS_PER_FAN_PER_MINUTE
    """Joins one fan may make in any 60 s, where the fan is known (verified identity); 0:
    no limit."""
    rate_limit_requests_per_minute: int = 0
    """Requests to any route but ``/health`` and ``/metrics`` one client address may
    make in any 60 s; 0 (the default): no limit."""
    trusted_proxies: tuple[IpNetwork, ...] = ()
    """Peers whose ``X-Forwarded-For`` names the client (docs/contract.md §9)."""
    header_timeout_seconds: float = DEFAULT_HEADER_TIMEOUT_SECONDS
    """How long a connection has to send a complete request head, and then its body
    (docs/contract.md §9)."""
    max_connections_per_address: int = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS
    """Open connections per client address and server process, at most; 0: no bound."""
    challenge_max_number: int = DEFAULT_CHALLENGE_MAX_NUMBER
    """The largest number a join challenge's solution may be: its cost."""
    challenge_ttl: dt.timedelta = DEFAULT_CHALLENGE_TTL
    """How long a join challenge may be solved and used after it is issued."""

    @property
    def in_memory(self) -> bool:
        return self.database_url.startswith("memory:")

    @property
    def identity_on(self) -> bool:
        """Whether fans must prove who they are (docs/contract.md §9)."""
        return self.identity_key is not None or self.identity_jwks_url is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read the ``CONCERT_`` variables of ``environ``; unset or empty means default."""

        def get(name: str, parse: Callable[[str], _T], default: _T) -> _T:
            raw = environ.get(PREFIX + name, "").strip()
            if not raw:
                return default
            try:
                return parse(raw)
            except ValueError as error:
                raise SettingsError(f"{PREFIX}{name}={raw!r}: {error}") from None

        base = Policy()
        try:
            policy = Policy(
                active_capacity=get("ACTIVE_CAPACITY", values.whole_number, base.active_capacity),
                admission_interval=get(
                    "ADMISSION_INTERVAL_SECONDS", values.duration, base.admission_interval
                ),
                active_ttl=get("ACTIVE_TTL_SECONDS", values.duration, base.active_ttl),
                hold_ttl=get("HOLD_TTL_SECONDS", values.duration, base.hold_ttl),
                idle_timeout=get("QUEUE_IDLE_TIMEOUT_SECONDS", values.duration, base.idle_timeout),
                max_holds_per_user=get(
                    "MAX_HOLDS_PER_USER", values.whole_number, base.max_holds_per_user
                ),
                idempotency_lease=get(
                    "IDEMPOTENCY_LEASE_SECONDS", values.duration, base.idempotency_lease
                ),
            )
        except (ValueError, TypeError) as error:
            raise SettingsError(str(error)) from None
        identity = _identity(get)
        secret = get("TOKEN_SECRET", str, None)
        if secret is not None and len(secret.encode()) < 32:
            raise SettingsError(f"{PREFIX}TOKEN_SECRET must be at least 32 bytes long")
        return cls(
            database_url=get("DATABASE_URL", values.database_url, DEFAULT_DATABASE_URL),
            redis_url=get("REDIS_URL", values.redis_url, None),
            redis_namespace=get("REDIS_NAMESPACE", values.namespace, DEFAULT_REDIS_NAMESPACE),
            database_pool_size=get(
                "DATABASE_POOL_SIZE", values.pool_size, DEFAULT_DATABASE_POOL_SIZE
            ),
            redis_pool_size=get("REDIS_POOL_SIZE", values.pool_size, DEFAULT_REDIS_POOL_SIZE),
            token_secret=secret,
            admin_key=_admin_key(get("ADMIN_KEY", str, None)),
            policy=policy,
            **identity,
            rate_limit_joins_per_minute=get(
                "RATE_LIMIT_JOINS_PER_MINUTE", values.rate, DEFAULT_JOINS_PER_MINUTE
            ),
            rate_limit_joins_per_fan_per_minute=get(
                "RATE_LIMIT_JOINS_PER_FAN_PER_MINUTE", values.rate, DEFAULT_JOINS_PER_FAN_PER_MINUTE
            ),
            rate_limit_requests_per_minute=get("RATE_LIMIT_REQUESTS_PER_MINUTE", values.rate, 0),
            trusted_proxies=get("TRUSTED_PROXIES", values.networks, ()),
            header_timeout_seconds=get(
                "HEADER_TIMEOUT_SECONDS", values.header_timeout, DEFAULT_HEADER_TIMEOUT_SECONDS
            ),
            max_connections_per_address=get(
                "MAX_CONNECTIONS_PER_ADDRESS",
                values.connections_per_address,
                DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            ),
            challenge_max_number=get(
                "CHALLENGE_MAX_NUMBER", values.challenge_max_number, DEFAULT_CHALLENGE_MAX_NUMBER
            ),
            challenge_ttl=get("CHALLENGE_TTL_SECONDS", values.challenge_ttl, DEFAULT_CHALLENGE_TTL),
        )


MIN_ADMIN_KEY_LENGTH = 32


def _admin_key(raw: str | None) -> str | None:
    """The operator key: at least 32 printable ASCII characters, no spaces (it is sent
    in an ``Authorization`` header as it is). A refusal never repeats the key."""
    if raw is None:
        return None
    if not re.fullmatch(r"[\x21-\x7e]+", raw):
        raise SettingsError(f"{PREFIX}ADMIN_KEY must be printable ASCII characters without spaces")
    if len(raw) < MIN_ADMIN_KEY_LENGTH:
        raise SettingsError(
            f"{PREFIX}ADMIN_KEY must be at least {MIN_ADMIN_KEY_LENGTH} characters long"
        )
    return raw


def _identity(
    get: Callable[[str, Callable[[str], str], str | None], str | None],
) -> dict[str, str | None]:
    """The ``CONCERT_IDENTITY_*`` settings, checked together: a key or a JWKS URL, not
    both; an issuer or audience only with one of them (alone, it would check nothing)."""
    key = _identity_key(get("IDENTITY_KEY", str, None))
    jwks_url = get("IDENTITY_JWKS_URL", _jwks_url, None)
    issuer = get("IDENTITY_ISSUER", str, None)
    audience = get("IDENTITY_AUDIENCE", str, None)
    if key is not None and jwks_url is not None:
        raise SettingsError(
            f"{PREFIX}IDENTITY_KEY and {PREFIX}IDENTITY_JWKS_URL are both set: set one"
        )
    if key is None and jwks_url is None:
        for name, value in (("IDENTITY_ISSUER", issuer), ("IDENTITY_AUDIENCE", audience)):
            if value is not None:
                raise SettingsError(
                    f"{PREFIX}{name} needs {PREFIX}IDENTITY_KEY or {PREFIX}IDENTITY_JWKS_URL"
                )
    return {
        "identity_key": key,
        "identity_jwks_url": jwks_url,
        "identity_issuer": issuer,
        "identity_audience": audience,
    }


def _identity_key(raw: str | None) -> str | None:
    """Checked now (PyJWT and cryptography are imported only when it is set). A refusal
    never repeats the key: it may be a secret."""
    if raw is None:
        return None
    from adapters.identity import load_identity_key

    try:
        load_identity_key(raw)
    except ValueError as error:
        raise SettingsError(f"{PREFIX}IDENTITY_KEY: {error}") from None
    return raw


_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def _jwks_url(raw: str) -> str:
    """An https URL; plain http only to this machine (keys read over the network
    unencrypted could be anyone's)."""
    expected = "expected https://host/path (http:// only to localhost)"
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018  (raises for a port that is not a number)
    except ValueError as error:
        raise ValueError(f"{expected}: {error}") from None
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise ValueError(expected)
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise ValueError(expected)
    return raw
