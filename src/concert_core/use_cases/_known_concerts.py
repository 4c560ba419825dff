"""Which concerts exist, read from the catalogue once per concert (decision 12)."""

from __future__ import annotations

from concert_core.domain import ConcertId, NotFoundError
from concert_core.ports import UnitOfWorkFactory


class KnownConcerts:
    """Concerts found to exist. Concerts are never removed, so a stampede of token
    requests needs one catalogue read per concert and process, not one per request."""

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory
        self._known: set[ConcertId] = set()

    async def require(self, concert_id: ConcertId) -> None:
        """NotFoundError unless the concert exists."""
        if concert_id in self._known:
            return
        async with self._uow_factory() as uow:
            if await uow.catalogue.get_concert(concert_id) is None:
                raise NotFoundError(f"concert {concert_id} does not exist")
        self._known.add(concert_id)
