"""The Redis queue store's Coalescer: calls in one loop turn share one round trip."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from adapters.redis.coalescer import Coalescer

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


class Recorder:
    def __init__(self, fail: BaseException | None = None) -> None:
        self.calls: list[tuple[str, dt.datetime, list[int]]] = []
        self.fail = fail

    async def run(self, key: str, args: list[tuple[int, dt.datetime]]) -> list[str | Exception]:
        self.calls.append((key, max(now for _, now in args), [a for a, _ in args]))
        await asyncio.sleep(0)
        if self.fail is not None:
            raise self.fail
        return [ValueError(f"no {a}") if a < 0 else f"{key}:{a}" for a, _ in args]


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


async def test_calls_in_one_turn_share_one_run_per_key() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.run)
    results = await asyncio.gather(
        coalescer.submit("a", (1, at(1))),
        coalescer.submit("b", (2, at(5))),
        coalescer.submit("a", (3, at(3))),
        coalescer.submit("a", (4, at(2))),
    )
    assert results == ["a:1", "b:2", "a:3", "a:4"]
    assert sorted(recorder.calls) == [("a", at(3), [1, 3, 4]), ("b", at(5), [2])]


async def test_calls_in_separate_turns_run_separately() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.run)
    assert await coalescer.submit("a", (1, at(1))) == "a:1"
    assert await coalescer.submit("a", (2, at(2))) == "a:2"
    assert recorder.calls == [("a", at(1), [1]), ("a", at(2), [2])]


async def test_a_run_takes_at_most_limit_calls() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.run, limit=3)
    results = await asyncio.gather(*(coalescer.submit("a", (n, at(1))) for n in range(7)))
    assert results == [f"a:{n}" for n in range(7)]
    assert [args for _, _, args in recorder.calls] == [[0, 1, 2], [3, 4, 5], [6]]


async def test_a_failed_run_fails_every_caller_in_it() -> None:
    coalescer = Coalescer(Recorder(fail=RuntimeError("down")).run)
    results = await asyncio.gather(
        *(coalescer.submit("a", (n, at(1))) for n in range(3)), return_exceptions=True
    )
    assert [str(r) for r in results] == ["down"] * 3
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_a_cancelled_caller_leaves_the_others_their_results() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.run)
    doomed = asyncio.ensure_future(coalescer.submit("a", (1, at(1))))
    kept = asyncio.ensure_future(coalescer.submit("a", (2, at(1))))
    await asyncio.sleep(0)
    doomed.cancel()
    assert await kept == "a:2"
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert recorder.calls == [("a", at(1), [1, 2])]


async def test_a_failed_item_fails_its_caller_alone() -> None:
    coalescer = Coalescer(Recorder().run)
    results = await asyncio.gather(
        coalescer.submit("a", (1, at(1))),
        coalescer.submit("a", (-2, at(1))),
        coalescer.submit("a", (3, at(1))),
        return_exceptions=True,
    )
    assert results[0] == "a:1" and results[2] == "a:3"
    assert isinstance(results[1], ValueError) and str(results[1]) == "no -2"


async def test_each_caller_of_a_failed_run_gets_its_own_exception() -> None:
    cause = RuntimeError("down")
    coalescer = Coalescer(Recorder(fail=cause).run)
    results = await asyncio.gather(
        *(coalescer.submit("a", (n, at(1))) for n in range(2)), return_exceptions=True
    )
    first, second = results
    assert isinstance(first, RuntimeError) and isinstance(second, RuntimeError)
    assert first is not second
    assert first.__cause__ is cause and second.__cause__ is cause
