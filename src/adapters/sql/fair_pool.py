"""A connection pool that serves the requests waiting for a connection in the order
they came: a connection given back goes straight to the longest waiter.

SQLAlchemy's asyncio pool keeps its free connections in an ``asyncio.Queue``. A
request that finds one free takes it at once, even while others wait: a connection
given back wakes the first waiter, but a request arriving before that waiter runs
takes the connection, and the waiter goes back to the end of the line. Under a
stampede that is most of them, so a few requests waited out the pool's whole timeout
(10 s, then 503) while later ones were served in milliseconds (decision 25).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, TypeVar

from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty, Full

_T = TypeVar("_T")


class FairAsyncQueue(AsyncAdaptedQueue[_T]):
    """The pool's free connections, handed over first come, first served."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._free: deque[_T] = deque()
        self._waiters: deque[asyncio.Future[_T]] = deque()

    def empty(self) -> bool:
        return not self._free

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self._free)

    def qsize(self) -> int:
        return len(self._free)

    def put_nowait(self, item: _T) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # one that gave up (timed out, cancelled) is passed over
                waiter.set_result(item)
                return
        if self.full():
            raise Full()
        self._free.append(item)

    def put(self, item: _T, block: bool = True, timeout: float | None = None) -> None:
        self.put_nowait(item)  # never full: the pool gives back only what it handed out

    def get_nowait(self) -> _T:
        if not self._free:
            raise Empty()
        return self._free.pop() if self.use_lifo else self._free.popleft()

    def get(self, block: bool = True, timeout: float | None = None) -> _T:
        # A free connection exists only while nobody waits (put hands it over), so
        # taking it here overtakes no one.
        if self._free or not block:
            return self.get_nowait()
        return self.await_(self._wait(within=timeout))

    async def _wait(self, *, within: float | None) -> _T:
        waiter: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(within):
                return await waiter
        except BaseException as error:
            if waiter.done() and not waiter.cancelled():
                # Handed a connection just as it gave up: pass it to the next one.
                self.put_nowait(waiter.result())
            else:
                waiter.cancel()
            if isinstance(error, TimeoutError):
                raise Empty() from error
            raise


class FairAsyncQueuePool(AsyncAdaptedQueuePool):
    """``AsyncAdaptedQueuePool`` whose waiting checkouts are served in order."""

    _queue_class: Any = FairAsyncQueue
