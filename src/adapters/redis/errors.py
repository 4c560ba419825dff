"""What a Redis failure becomes past an adapter: ServiceUnavailableError, and a log line
that tells an outage from a bug."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from redis import exceptions as redis_errors

from concert_core.domain import ServiceUnavailableError

_log = logging.getLogger(__name__)

TRANSIENT_ERRORS = (
    redis_errors.ConnectionError,  # BusyLoadingError, AuthenticationError, ... too
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,
    redis_errors.OutOfMemoryError,
    redis_errors.ClusterError,  # ClusterDownError, MasterDownError
    redis_errors.TryAgainError,
    OSError,
)
"""Errors that mean Redis is unreachable or busy for now, not that something is wrong."""


def unavailable(cause: BaseException) -> ServiceUnavailableError:
    """The error a caller gets when Redis failed it, chained to what Redis said."""
    error = ServiceUnavailableError("Redis is unavailable; try again shortly")
    error.__cause__ = cause
    return error


@contextlib.contextmanager
def unavailable_on_redis_errors() -> Iterator[None]:
    """Raise ServiceUnavailableError for any Redis error: none leaks past an adapter.

    One that means 'unreachable or busy' is logged as a warning; any other (a script
    error, a key of the wrong type) with its traceback, so that a bug is still seen.
    """
    try:
        yield
    except (redis_errors.RedisError, OSError) as error:
        if isinstance(error, TRANSIENT_ERRORS) or str(error).startswith(("BUSY", "NOREPLICAS")):
            _log.warning("redis unavailable: %r", error)
        else:
            _log.exception("unexpected redis error")
        raise unavailable(error) from error
