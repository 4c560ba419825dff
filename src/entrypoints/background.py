"""Background work each serving process runs: admission passes and the expiry sweeper.

Every process runs both loops. That is safe: an admission pass and a sweep are each
atomic storage operations that many processes may run at once (the cap, FIFO order
and the ledger are guarded by storage, not by there being one runner).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from concert_core import ConcertService
from concert_core.domain import DomainError

_log = logging.getLogger(__name__)

SWEEP_INTERVAL = dt.timedelta(seconds=5)


async def repeat(
    name: str, step: Callable[[], Awaitable[object]], every: dt.timedelta, stop: asyncio.Event
) -> None:
    """Run ``step`` every ``every`` until ``stop`` is set; a failing step is logged and
    tried again next time (a database that is briefly away must not end the loop)."""
    while not stop.is_set():
        try:
            await step()
        except DomainError as error:
            _log.warning("%s: %s: %s", name, error.code, error.detail)
        except Exception:
            _log.exception("%s failed; trying again in %s", name, every)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every.total_seconds())


@contextlib.asynccontextmanager
async def background_work(
    service: ConcertService, sweep_every: dt.timedelta = SWEEP_INTERVAL
) -> AsyncIterator[None]:
    """Admission passes every admission interval and a sweep every ``sweep_every``,
    for as long as the block runs; both stop (and are awaited) when it ends."""
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(
            repeat("admission", service.admit_waiting, service.policy.admission_interval, stop)
        ),
        asyncio.create_task(repeat("expiry sweep", service.expire_lapsed, sweep_every, stop)),
    ]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
