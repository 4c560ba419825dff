"""Calls made in one turn of the event loop share one round trip (``Coalescer``).

Speed machinery: why the queue store shares its script calls, and what was rejected,
is docs/decisions/0012-hot-paths-in-few-statements.md (decision 12).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K")
A = TypeVar("A")
R = TypeVar("R")


class Coalescer(Generic[K, A, R]):
    """Calls made in one turn of the event loop share one round trip.

    ``submit(key, arg)`` queues ``arg`` under ``key``; at the loop's next turn
    ``run(key, args)`` is called once for everything queued under that key (at most
    ``limit`` per call) and returns one result per arg, in order. Each result is its
    caller's: an exception among them is raised to that caller alone, while a failure
    of the whole call is every caller's (each gets its own copy). Under a stampede a
    worker's concurrent polls become one script call instead of dozens; a lone call
    waits one loop turn. A caller cancelled before its turn may still have its item
    applied, as a request cancelled after it was sent would.
    """

    def __init__(
        self,
        run: Callable[[K, list[A]], Awaitable[Sequence[R | Exception]]],
        *,
        limit: int = 128,
    ) -> None:
        self._run = run
        self._limit = limit
        self._pending: dict[K, _Batch[A, R]] = {}
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, key: K, arg: A) -> R:
        loop = asyncio.get_running_loop()
        batch = self._pending.get(key)
        if batch is None or batch.loop is not loop or len(batch.args) >= self._limit:
            batch = self._pending[key] = _Batch(loop)
            loop.call_soon(self._flush, key, batch)
        batch.args.append(arg)
        future: asyncio.Future[R] = loop.create_future()
        batch.futures.append(future)
        return await future

    def _flush(self, key: K, batch: _Batch[A, R]) -> None:
        if self._pending.get(key) is batch:
            del self._pending[key]
        task = asyncio.create_task(self._execute(key, batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _execute(self, key: K, batch: _Batch[A, R]) -> None:
        try:
            results = await self._run(key, batch.args)
            if len(results) != len(batch.args):
                raise RuntimeError(f"{len(results)} results for {len(batch.args)} calls")
        except BaseException as error:
            for future in batch.futures:
                if future.done():
                    continue
                if isinstance(error, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(_own_copy(error))
            if not isinstance(error, Exception):
                raise
            return
        for future, result in zip(batch.futures, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)


def _own_copy(error: BaseException) -> BaseException:
    """A copy of a shared failure for one caller (each raise rewrites its traceback)."""
    try:
        copied = copy.copy(error)
    except Exception:
        return error
    copied.__cause__ = error.__cause__ or error
    return copied


class _Batch(Generic[A, R]):
    """The calls queued under one key for one loop turn, and their callers' futures."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.args: list[A] = []
        self.futures: list[asyncio.Future[R]] = []
