"""What each ``CONCERT_`` variable's value may be: one reader per kind of value, each
raising ``ValueError`` with what was expected (``entrypoints.settings`` names the
variable)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from redis.connection import parse_url

MEMORY_URL = "memory://"
"""``CONCERT_DATABASE_URL=memory://`` keeps everything in the process (demos, tests)."""
MAX_RATE_LIMIT = 1_000_000
MAX_CHALLENGE_MAX_NUMBER = 10_000_000
MAX_CHALLENGE_TTL = dt.timedelta(days=1)
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SUPPORTED_DATABASES = ("sqlite+aiosqlite://", "postgresql+asyncpg://", MEMORY_URL)


def database_url(raw: str) -> str:
    if not raw.startswith(SUPPORTED_DATABASES):
        raise ValueError(
            "expected sqlite+aiosqlite:///path.db, postgresql+asyncpg://user@host/db or memory://"
        )
    return raw


SUPPORTED_REDIS = ("redis://", "rediss://", "unix://")
_redis_url_options: Callable[[str], dict[str, object]] = parse_url
"""redis-py's own reading of a URL's query options (its function is unannotated)."""


def redis_url(raw: str) -> str:
    expected = "expected redis://host:6379/0, rediss://host:6379/0 or unix:///path"
    if not raw.startswith(SUPPORTED_REDIS):
        raise ValueError(expected)
    try:
        parts = urlsplit(raw)
        _redis_url_options(raw)  # the options redis-py reads from the query, checked now
        parts.port  # noqa: B018  (raises for a port that is not a number)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{expected}: {error}") from None
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError(f"{expected}: the host is missing")
    if parts.scheme != "unix" and not re.fullmatch(r"/?\d{0,5}", parts.path):
        raise ValueError(f"{expected}: the database is a number")
    return raw


def namespace(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", raw):
        raise ValueError("expected 1 to 64 letters, digits, '_', '.' or '-'")
    return raw


def pool_size(raw: str) -> int:
    size = whole_number(raw)
    if not 1 <= size <= 1_000:
        raise ValueError("expected a whole number from 1 to 1000")
    return size


def whole_number(raw: str) -> int:
    if not raw.isascii():
        raise ValueError("expected a whole number")
    try:
        return int(raw)
    except ValueError:
        raise ValueError("expected a whole number") from None


def duration(raw: str) -> dt.timedelta:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("expected a number of seconds") from None
    if not 0 < value < 366 * 86_400:
        raise ValueError("expected a number of seconds greater than 0")
    return dt.timedelta(seconds=value)


def rate(raw: str) -> int:
    rate = whole_number(raw)
    if not 0 <= rate <= MAX_RATE_LIMIT:
        raise ValueError(f"expected a whole number from 0 (no limit) to {MAX_RATE_LIMIT}")
    return rate


def networks(raw: str) -> tuple[IpNetwork, ...]:
    """Comma-separated addresses or networks (``10.0.0.0/8``, ``192.0.2.7``, ``::1``)."""
    networks = []
    for part in raw.split(","):
        item = part.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError as error:
            raise ValueError(f"expected IP addresses or networks, comma-separated: {error}") from (
                None
            )
    return tuple(networks)


def header_timeout(raw: str) -> float:
    seconds = duration(raw).total_seconds()
    if seconds > 300:
        raise ValueError("expected a number of seconds from above 0 to 300")
    return seconds


def connections_per_address(raw: str) -> int:
    count = whole_number(raw)
    if not 0 <= count <= 1_000_000:
        raise ValueError("expected a whole number from 0 (no bound) to 1000000")
    return count


def challenge_max_number(raw: str) -> int:
    number = whole_number(raw)
    if not 1 <= number <= MAX_CHALLENGE_MAX_NUMBER:
        raise ValueError(f"expected a whole number from 1 to {MAX_CHALLENGE_MAX_NUMBER:_}")
    return number


def challenge_ttl(raw: str) -> dt.timedelta:
    ttl = duration(raw)
    if not dt.timedelta(seconds=1) <= ttl <= MAX_CHALLENGE_TTL:
        raise ValueError("expected a number of seconds from 1 to 86400")
    return ttl
