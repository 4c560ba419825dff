"""``concert seed``: the demo concerts, added once however often it runs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.progress import Progress

from concert_core import ConcertService
from concert_core.use_cases import ScheduleConcertCommand, tiered_prices
from entrypoints.cli.running import out, with_service

DEMO_CONCERTS = (
    ("Winter Lights", "Olympic Hall"),
    ("Han River Nights", "KSPO Dome"),
    ("Spring Overture", "Seoul Arts Center"),
    ("Neon Harbour", "Busan Cinema Center"),
    ("Summer Static", "Incheon Munhak Stadium"),
)
DEMO_START = dt.date(2027, 3, 6)
"""The demo's first performance; a fixed day, so seeding again adds nothing."""


def seed(
    concerts: Annotated[int, typer.Option(min=1, max=len(DEMO_CONCERTS))] = 3,
    dates: Annotated[int, typer.Option(min=1, max=520, help="Weekly dates per concert.")] = 5,
    price: Annotated[
        int,
        typer.Option(min=1_000, max=5_000_000, help="Base price in won; seats vary by tier."),
    ] = 100_000,
) -> None:
    """Add demo concerts, each with weekly dates of 50 seats. Running it again adds nothing."""
    prices = tiered_prices(price)
    days = [DEMO_START + dt.timedelta(weeks=w) for w in range(dates)]

    async def work(service: ConcertService) -> tuple[int, int]:
        before = {c.concert_id for c in await service.list_concerts()}
        with Progress(console=out, transient=False) as progress:
            task = progress.add_task("seeding", total=concerts * dates)
            for title, venue in DEMO_CONCERTS[:concerts]:
                for day in days:
                    await service.schedule_concert(
                        ScheduleConcertCommand(title, venue, [day], prices)
                    )
                    progress.advance(task)
        after = await service.list_concerts()
        return len(after), len({c.concert_id for c in after} - before)

    total, added = with_service(work)
    out.print(f"{added} concerts added, {total} in all ({dates} dates of 50 seats each)")
