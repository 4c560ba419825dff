"""Background work each serving process runs: admission passes and the expiry sweeper.

Every process runs both loops. That is safe: an admission pass and a sweep are each
atomic storage operations that many processes may run at once (the cap, FIFO order
and the ledger are guarded by storage, not by there being one runner). The loops run
until cancelled; a step cut short by cancellation rolls back.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from concert_core.domain import DomainError

_log = logging.getLogger(__name__)
_Result = TypeVar("_Result")

SWEEP_INTERVAL = dt.timedelta(seconds=5)


async def repeat(name: str, step: Callable[[], Awaitable[object]], every: dt.timedelta) -> None:
    """Run ``step`` every ``every`` until cancelled; a failing step is logged and tried
    again next time (a database that is briefly away must not end the loop)."""
    while True:
        try:
            await step()
        except DomainError as error:
            _log.warning("%s: %s: %s", name, error.code, error.detail)
        except Exception:
            _log.exception("%s failed; trying again in %s", name, every)
        await asyncio.sleep(every.total_seconds())


def reporting(
    step: Callable[[], Awaitable[_Result]], report: Callable[[_Result], None]
) -> Callable[[], Awaitable[None]]:
    """``step``, handing what each run returns to ``report`` (an admission pass's
    admissions to the metrics, say)."""

    async def run() -> None:
        report(await step())

    return run
