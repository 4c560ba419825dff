"""The waiting rooms by hand: ``concert queue admit`` and ``concert queue stats``, and
``concert expire`` (the sweep every server also runs)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import typer
from rich.table import Table

from concert_core import ConcertService
from entrypoints.cli.running import out, with_service

queue_app = typer.Typer(help="The waiting rooms.", no_args_is_help=True)


@queue_app.command("admit")
def queue_admit(
    concert: Annotated[int | None, typer.Option(min=1, help="Only this concert.")] = None,
    loop: Annotated[bool, typer.Option(help="Keep admitting every admission interval.")] = False,
) -> None:
    """Admit waiting fans into free active places, in FIFO order."""

    async def work(service: ConcertService) -> None:
        while True:
            for admission in await service.admit_waiting(concert):
                if admission.admitted or not loop:
                    out.print(f"concert {admission.concert_id}: {admission.admitted} admitted")
            if not loop:
                return
            await asyncio.sleep(service.policy.admission_interval.total_seconds())

    with contextlib.suppress(KeyboardInterrupt):
        with_service(work)


@queue_app.command("stats")
def queue_stats(
    concert: Annotated[int | None, typer.Option(min=1, help="Only this concert.")] = None,
) -> None:
    """Waiting and active fans per concert, with each sale's phase and capacity."""

    async def work(service: ConcertService) -> None:
        table = Table("concert", "phase", "waiting", "active", "capacity", "admitted last min")
        for report in await service.report_concerts(concert):
            table.add_row(
                str(report.concert.concert_id),
                str(report.phase),
                str(report.queue.waiting),
                str(report.queue.active),
                str(report.capacity),
                str(report.queue.admitted_last_minute),
            )
        out.print(table)

    with_service(work)


def expire() -> None:
    """Release lapsed holds and expire timed-out tokens (correctness never waits for this)."""

    async def work(service: ConcertService) -> None:
        report = await service.expire_lapsed()
        out.print(f"{report.tokens_expired} tokens expired, {report.holds_released} holds released")

    with_service(work)
