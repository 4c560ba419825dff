"""The Lua scripts in ``scripts/``: their text, their registration on a client, and one
call of one, with Redis errors translated.

A registered script is sent by ``EVALSHA`` and loaded again on ``NOSCRIPT``, so each
is transferred once per client.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from adapters.redis.errors import unavailable_on_redis_errors

KEY_TTL_MARGIN = dt.timedelta(hours=1)
"""How long past the longest rule a quiet key is kept (garbage collection)."""


def script_text(name: str) -> str:
    """The text of ``scripts/<name>.lua``."""
    return resources.files("adapters.redis").joinpath("scripts", f"{name}.lua").read_text()


def check_client(client: aioredis.Redis) -> None:
    """The scripts exchange packed bytes: the client must not decode replies."""
    if client.connection_pool.connection_kwargs.get("decode_responses", False):
        raise ValueError("the Redis stores need a client with decode_responses=False")


def register_scripts(
    client: aioredis.Redis, names: Iterable[str], *, prelude: str | Sequence[str] | None = None
) -> dict[str, AsyncScript]:
    """The scripts ``names`` registered on ``client``, each with the text of the
    ``prelude`` script (or scripts, in order) before its own."""
    preludes = () if prelude is None else (prelude,) if isinstance(prelude, str) else prelude
    head = "".join(script_text(each) + "\n" for each in preludes)
    return {name: client.register_script(head + script_text(name)) for name in names}


async def run_script(
    script: AsyncScript, keys: Sequence[str], args: Sequence[bytes | str | int]
) -> Any:
    """One call of ``script``; any Redis error becomes ServiceUnavailableError."""
    with unavailable_on_redis_errors():
        return await script(keys, args)
