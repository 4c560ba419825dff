"""Which concerts an operator's command is about."""

from __future__ import annotations

from concert_core.domain import ConcertId, NotFoundError, values
from concert_core.ports import UnitOfWorkFactory


async def concerts_named(
    uow_factory: UnitOfWorkFactory, concert_id: ConcertId | int | None
) -> list[ConcertId]:
    """``[concert_id]`` if that concert exists (else NOT_FOUND), or every concert's id."""
    async with uow_factory() as uow:
        if concert_id is None:
            return [c.concert_id for c in await uow.catalogue.list_concerts()]
        cid = values.concert_id(concert_id)
        if await uow.catalogue.get_concert(cid) is None:
            raise NotFoundError(f"concert {cid} does not exist")
        return [cid]
