"""An on-sale as `/metrics` shows it: one app in this process, on memory storage, its
admission loop running, the clock moved by the test through the pre-queue, the opening
and the closing."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from dependency_injector import providers
from prometheus_client.parser import text_string_to_metric_families

from adapters.clock import ManualClock
from concert_core import Policy
from concert_core.domain import Concert, Phase
from concert_core.use_cases import AddConcertCommand, ChangeSaleCommand, tiered_prices
from e2e.helpers import Api, Fan, running
from entrypoints.container import Container
from entrypoints.http import create_app
from entrypoints.settings import MEMORY_URL, Settings
from support import DATES, TEST_SECRET

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    """An app with its background loops on: admission every 20 ms (of real time)."""
    clock = ManualClock()
    policy = Policy(active_capacity=2, admission_interval=dt.timedelta(seconds=0.02))
    settings = Settings(
        database_url=MEMORY_URL,
        token_secret=TEST_SECRET,
        policy=policy,
        rate_limit_joins_per_minute=0,
    )
    container = Container(settings=settings)
    container.clock.override(providers.Object(clock))
    app = create_app(settings, container=container, background=True)
    async with running(app):
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield Api(client=client, app=app, clock=clock, settings=settings)


async def scrape(api: Api) -> Samples:
    reply = await api.client.get("/metrics")
    assert reply.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


async def scraped_once(api: Api, ready: Callable[[Samples], bool]) -> Samples:
    """The first scrape for which ``ready`` holds (the loop runs on its own time)."""
    for _ in range(250):
        samples = await scrape(api)
        if ready(samples):
            return samples
        await asyncio.sleep(0.02)
    sales = {key: value for key, value in samples.items() if key[0].startswith("concert_sale")}
    raise AssertionError(f"the metrics never got there: {sales}")


def of(concert: Concert, **labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"concert_id": str(concert.concert_id), **labels}.items()))


def phases(samples: Samples, concert: Concert) -> dict[str, float]:
    return {p.value: samples["concert_sale_phase", of(concert, phase=p.value)] for p in Phase}


async def test_the_metrics_follow_an_on_sale_from_its_prequeue_to_its_close(api: Api) -> None:
    now = await api.clock.now()
    concert = await api.service.add_concert(
        AddConcertCommand(
            "Aurora",
            "Hall",
            [DATES[0]],
            tiered_prices(100_000),
            sale={"prequeue_opens_at": now, "opens_at": now + MINUTE},
        )
    )
    fans = [await api.waiting_fan(concert.concert_id) for _ in range(4)]
    again = await api.enter(concert.concert_id, fans[0].user_id)
    assert again.status_code == 200  # the fan's own token back: not a join

    samples = await scrape(api)
    assert phases(samples, concert) == {p.value: float(p is Phase.PREQUEUE) for p in Phase}
    assert samples["concert_sale_joins_total", of(concert)] == 4
    assert samples["concert_queue_waiting", of(concert)] == 4
    assert samples["concert_queue_active", of(concert)] == 0
    assert samples["concert_sale_capacity", of(concert)] == 2
    assert samples["concert_sale_seats", of(concert, state="available")] == 50
    assert samples.get(("concert_sale_admissions_total", of(concert)), 0) == 0  # not open
    assert samples["concert_queue_stats_up", ()] == 1

    api.clock.advance(MINUTE)  # the opening: the loop shuffles and admits to the capacity
    samples = await scraped_once(
        api, lambda s: s.get(("concert_sale_admissions_total", of(concert))) == 2
    )
    assert phases(samples, concert)[Phase.OPEN] == 1
    assert samples["concert_queue_active", of(concert)] == 2
    assert samples["concert_queue_waiting", of(concert)] == 2

    buyer = await active(api, fans)
    reservation_id = await api.held(buyer, concert.concert_id, 3)
    assert (await api.charge(buyer.user_id, 1_000_000)).status_code == 200
    assert (await api.pay(buyer, [reservation_id])).status_code == 201
    # The buyer's turn ended with the payment: the loop lets the next fan in.
    samples = await scraped_once(
        api, lambda s: s.get(("concert_sale_admissions_total", of(concert))) == 3
    )
    assert samples["concert_queue_waiting", of(concert)] == 1
    assert samples["concert_sale_seats", of(concert, state="sold")] == 1
    assert samples["concert_sale_seats", of(concert, state="available")] == 49
    assert samples["concert_seats_sold_total", ()] == 1

    closes_at = await api.clock.now() + dt.timedelta(seconds=1)
    await api.service.change_sale(ChangeSaleCommand(concert.concert_id, {"closes_at": closes_at}))
    api.clock.advance(dt.timedelta(seconds=2))  # closed: the loop ends the one left waiting
    samples = await scraped_once(
        api, lambda s: s.get(("concert_sale_waiting_ended_total", of(concert))) == 1
    )
    assert phases(samples, concert)[Phase.CLOSED] == 1
    assert sum(phases(samples, concert).values()) == 1
    assert samples["concert_queue_waiting", of(concert)] == 0
    assert samples["concert_sale_admissions_total", of(concert)] == 3
    assert samples["concert_sale_joins_total", of(concert)] == 4


async def active(api: Api, fans: list[Fan]) -> Fan:
    for fan in fans:
        if (await api.status(fan)).json()["status"] == "ACTIVE":
            return fan
    raise AssertionError("nobody was let in")
