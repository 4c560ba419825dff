from __future__ import annotations

from concert_core.domain import Concert
from concert_core.ports import UnitOfWorkFactory


class ListConcerts:
    """Every concert, by id. Needs no token: the catalogue is public."""

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    async def __call__(self) -> list[Concert]:
        async with self._uow_factory() as uow:
            return await uow.catalogue.list_concerts()
