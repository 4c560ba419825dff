"""Steps whose failure is logged, not raised: time brings their effect about anyway."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from concert_core.domain import DomainError


@contextlib.contextmanager
def best_effort(log: logging.Logger, what: str) -> Iterator[None]:
    """Log a failure of the block as ``what`` and go on. A domain error (an outage is
    one) is expected in operation and takes one line; anything else is a fault in the
    code and keeps its traceback."""
    try:
        yield
    except DomainError as error:
        log.warning("%s: %s: %s", what, error.code, error.detail)
    except Exception:
        log.warning(what, exc_info=True)
