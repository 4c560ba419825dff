"""What the per-address join limit does to fans who share one address (a mobile
carrier's NAT, a campus), measured on the service's own limiter and line.

500 fans behind one address arrive in the first minute of a sale, among 2,000 fans
with addresses of their own who arrive over its first two minutes. Every fan who is
refused (429) tries again when ``Retry-After`` says, as the fan page does. Two sales:
one that opens at once (FIFO from the first join), one with a ten-minute pre-queue
(the line is shuffled at the opening). The limits are the defaults (60 joins per
address per minute); the time is a hand-moved clock, so the run takes seconds and says
what the rules do, not how fast a server is.

    PYTHONPATH=src:. .venv/bin/python -m bench.nat

It prints a table and writes ``bench/results/nat.json``; docs/security.md quotes it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import json
import random
import statistics
import uuid
from pathlib import Path
from typing import Any

from adapters.clock import ManualClock
from adapters.memory import MemoryRateLimiter, in_memory_service
from concert_core import ConcertService, Policy
from concert_core.domain import UserId
from concert_core.use_cases import AddConcertCommand, IssueTokenCommand, tiered_prices
from entrypoints.rate_limits import ClientLimits, RateLimitedError

NAT_FANS = 500
OTHER_FANS = 2_000
NAT_ADDRESS = "198.51.100.7"
PREQUEUE = dt.timedelta(minutes=10)
RESULTS = Path(__file__).parent / "results" / "nat.json"


async def one_sale(*, prequeue: bool, joins_per_minute: int, seed: int = 7) -> dict[str, Any]:
    # The idle timeout is out of the way: the question is when fans get into the line.
    policy = Policy(idle_timeout=dt.timedelta(days=1))
    clock = ManualClock()
    service: ConcertService = in_memory_service(policy=policy, clock=clock)
    limits = ClientLimits(
        MemoryRateLimiter(),
        clock,
        joins_per_minute=joins_per_minute,
        joins_per_fan_per_minute=0,
        requests_per_minute=0,
    )
    start = await clock.now()
    opens_at = start + PREQUEUE if prequeue else None
    sale: dict[str, object] = {"prequeue_opens_at": start, "opens_at": opens_at} if prequeue else {}
    concert = await service.add_concert(
        AddConcertCommand("NAT", "Hall", [dt.date(2027, 3, 6)], tiered_prices(100_000), sale=sale)
    )
    rng = random.Random(seed)
    arrivals: list[tuple[float, int, str, UserId]] = []
    for n in range(NAT_FANS):
        arrivals.append((rng.uniform(0, 60), n, NAT_ADDRESS, UserId(uuid.uuid4())))
    for n in range(OTHER_FANS):
        address = f"10.{n // 250}.{n % 250}.1"
        arrivals.append((rng.uniform(0, 120), NAT_FANS + n, address, UserId(uuid.uuid4())))
    heapq.heapify(arrivals)
    joined: dict[int, tuple[float, str]] = {}
    refusals = 0
    while arrivals:
        at, n, address, user = heapq.heappop(arrivals)
        clock.advance(start + dt.timedelta(seconds=at) - await clock.now())
        try:
            await limits.hit_join(address)
        except RateLimitedError as error:
            refusals += n < NAT_FANS
            heapq.heappush(arrivals, (at + error.retry_after_seconds, n, address, user))
            continue
        ticket = await service.issue_token(IssueTokenCommand(user, concert.concert_id))
        joined[n] = (at, ticket.token)
    # The line as it stands once every fan is in (after the opening, with a pre-queue).
    last_join = max(at for at, _ in joined.values())
    after = max(start + dt.timedelta(seconds=last_join), opens_at or start) + dt.timedelta(
        seconds=1
    )
    clock.advance(after - await clock.now())
    places = {n: (await service.queue_status(token)).position for n, (_, token) in joined.items()}
    nat = [n for n in joined if n < NAT_FANS]
    nat_times = sorted(joined[n][0] for n in nat)
    nat_places = [places[n] for n in nat if places[n] is not None]
    total = len(joined)
    in_prequeue = sum(1 for n in nat if opens_at is None or joined[n][0] < PREQUEUE.seconds)
    return {
        "sale": "ten-minute pre-queue" if prequeue else "opens at once",
        "limit": "off" if joins_per_minute == 0 else f"{joins_per_minute}/min",
        "joins_per_minute": joins_per_minute,
        "nat_fans_in_line_after_60_s": sum(1 for t in nat_times if t < 60),
        "nat_fans_in_before_the_opening": in_prequeue if prequeue else None,
        "last_nat_fan_in_after_s": round(nat_times[-1], 1),
        "median_nat_fan_in_after_s": round(statistics.median(nat_times), 1),
        "nat_refusals": refusals,
        "nat_mean_place_percentile": round(100 * statistics.mean(nat_places) / total, 1),
        "other_mean_place_percentile": round(
            100 * statistics.mean(p for n, p in places.items() if n >= NAT_FANS and p) / total, 1
        ),
        "fans_in_line": total,
    }


async def main() -> None:
    runs = [
        await one_sale(prequeue=prequeue, joins_per_minute=limit)
        for limit in (0, 60, 600)
        for prequeue in (False, True)
    ]
    header = (
        "sale",
        "join limit",
        "NAT fans in at 60 s",
        "median in (s)",
        "last in (s)",
        "NAT place %ile",
        "others %ile",
    )
    print(" | ".join(header))
    for run in runs:
        print(
            " | ".join(
                str(v)
                for v in (
                    run["sale"],
                    run["limit"],
                    run["nat_fans_in_line_after_60_s"],
                    run["median_nat_fan_in_after_s"],
                    run["last_nat_fan_in_after_s"],
                    run["nat_mean_place_percentile"],
                    run["other_mean_place_percentile"],
                )
            )
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(runs, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
