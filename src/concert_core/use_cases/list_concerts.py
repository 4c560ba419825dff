from __future__ import annotations

from concert_core.domain import Concert
from concert_core.ports import UnitOfWorkFactory


class ListConcerts:
    """Every concert, by id. Needs no token: the catalogue is public."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self) -> list[Concert]:
        async with self._uow() as uow:
            return await uow.catalogue.list_concerts()
