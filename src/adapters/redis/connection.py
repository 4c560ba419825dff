"""A Redis client the stores can use, and what it answers for health and the clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from adapters.redis.errors import unavailable_on_redis_errors

_log = logging.getLogger(__name__)

SOCKET_TIMEOUT_SECONDS = 2.0
"""How long one command may take before the request gets 503 instead of hanging."""
PING_TIMEOUT_SECONDS = 2.0


def connect(url: str, *, max_connections: int = 50) -> aioredis.Redis:
    """A client for ``url`` (``redis://``, ``rediss://`` or ``unix://``) whose pool opens
    at most ``max_connections`` connections (a request waits up to the socket timeout
    for one) and reconnects by itself after Redis restarts. A command that fails for a
    lost connection is tried once more on a fresh one; one that times out is not (a
    hung server would only double the wait). No script does harm run twice:
    issuing again returns the same live token, admitting again stays within the cap,
    and claiming a key again answers "in progress" until the claim's lease ends.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=SOCKET_TIMEOUT_SECONDS,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=1),
        retry_on_error=[RedisConnectionError],
    )
    return aioredis.Redis(connection_pool=pool)


async def ping(client: aioredis.Redis) -> bool:
    """Whether Redis answers ``PING`` within ``PING_TIMEOUT_SECONDS``."""
    try:
        async with asyncio.timeout(PING_TIMEOUT_SECONDS):
            return bool(await client.ping())
    except Exception as error:
        _log.warning("redis health check failed: %r", error)
        return False


async def redis_time(client: aioredis.Redis) -> dt.datetime:
    """Redis's clock now (``TIME``): a clock every instance sharing Redis shares."""
    with unavailable_on_redis_errors():
        seconds, micros = await client.time()
    return dt.datetime.fromtimestamp(seconds, dt.UTC) + dt.timedelta(microseconds=micros)


async def refused_settings(url: str) -> str | None:
    """Why Redis refuses what ``url`` asks (a database index out of range, bad
    credentials), or None: it accepts them or cannot be reached now (an outage the
    service rides out, unlike a wrong setting)."""
    client = connect(url, max_connections=1)
    try:
        await client.ping()
    except (redis_errors.AuthenticationError, redis_errors.AuthorizationError) as error:
        return str(error)
    except redis_errors.ResponseError as error:
        return str(error)
    except (redis_errors.RedisError, OSError):
        return None
    finally:
        await client.aclose()
    return None
