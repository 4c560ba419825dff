"""The pool's free connections go to the requests waiting for one in the order they
came; a newcomer never overtakes a waiter; one that gives up loses nothing."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.util import greenlet_spawn
from sqlalchemy.util.queue import Empty

from adapters.sql.fair_pool import FairAsyncQueue


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def waiting_get(queue: FairAsyncQueue[str], timeout: float = 5) -> asyncio.Task[str]:
    return asyncio.ensure_future(greenlet_spawn(queue.get, True, timeout))


async def test_waiters_are_served_in_the_order_they_came_and_newcomers_wait_behind() -> None:
    queue: FairAsyncQueue[str] = FairAsyncQueue(3)
    first = waiting_get(queue)
    await settle()
    second = waiting_get(queue)
    await settle()
    queue.put_nowait("a")  # handed to the first waiter, not left for whoever comes
    # A newcomer asking at once, before the first waiter has run, waits (and gives up).
    with pytest.raises(Empty):
        await greenlet_spawn(queue.get, True, 0.01)
    newcomer = waiting_get(queue)
    await settle()
    queue.put_nowait("b")
    queue.put_nowait("c")
    assert await first == "a"
    assert await second == "b"
    assert await newcomer == "c"
    assert queue.empty()


async def test_a_free_connection_is_taken_at_once_when_nobody_waits() -> None:
    queue: FairAsyncQueue[str] = FairAsyncQueue(2)
    queue.put_nowait("a")
    assert queue.qsize() == 1
    assert await greenlet_spawn(queue.get, True, 5) == "a"
    with pytest.raises(Empty):
        queue.get(False)


async def test_a_waiter_that_times_out_gets_empty_and_the_next_connection_is_kept() -> None:
    queue: FairAsyncQueue[str] = FairAsyncQueue(2)
    with pytest.raises(Empty):
        await greenlet_spawn(queue.get, True, 0.05)
    queue.put_nowait("a")  # nobody waits any more: kept for the next checkout
    assert queue.qsize() == 1


async def test_a_cancelled_waiter_is_passed_over() -> None:
    queue: FairAsyncQueue[str] = FairAsyncQueue(2)
    gone = waiting_get(queue)
    await settle()
    staying = waiting_get(queue)
    await settle()
    gone.cancel()
    await settle()
    queue.put_nowait("a")
    assert await staying == "a"
    assert gone.cancelled()


async def test_a_connection_handed_over_as_its_waiter_gives_up_goes_to_the_next() -> None:
    queue: FairAsyncQueue[str] = FairAsyncQueue(2)
    giving_up = waiting_get(queue)
    await settle()
    next_one = waiting_get(queue)
    await settle()
    queue.put_nowait("a")  # the first waiter's future now holds "a" ...
    giving_up.cancel()  # ... but it is cancelled before it runs
    assert await next_one == "a"
    with pytest.raises(asyncio.CancelledError):
        await giving_up
