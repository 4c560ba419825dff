"""The Lua scripts in ``scripts/``: their text, their registration on a client, and one
call of one, with Redis errors translated.

A registered script is sent by ``EVALSHA`` and loaded again on ``NOSCRIPT``, so each
is transferred once per client. Scripts that share a long prelude (the queue's) are
loaded instead as the functions of one Redis function library (``ScriptLibrary``):
an ``EVALSHA`` runs its whole text on every call, so the prelude's few dozen
definitions were made again each time, a third of a one-token poll's time in Redis
(decision 19).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Iterable, Sequence
from importlib import resources
from typing import Any, cast

import redis.asyncio as aioredis
from redis import exceptions as redis_errors
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
    script: AsyncScript | LibraryFunction, keys: Sequence[str], args: Sequence[bytes | str | int]
) -> Any:
    """One call of ``script``; any Redis error becomes ServiceUnavailableError."""
    with unavailable_on_redis_errors():
        return await script(keys, args)


class ScriptLibrary:
    """Scripts run as the functions of one Redis function library: ``prelude`` (the
    text of those scripts, in order) heads the library, and each script's body
    becomes a function that calls the prelude's ``begin(keys, args)`` first, so the
    body reads ``KEYS`` and ``ARGV`` as it would in a script.

    The library is named by a digest of its text, so instances running different
    versions never replace each other's functions, and loaded (``FUNCTION LOAD
    REPLACE``, which is idempotent) whenever Redis says a function is not found (its
    first use, a Redis restarted without persistence, or its functions flushed). Each
    function is called like a registered script: ``await f(keys, args)``.
    """

    def __init__(
        self, client: aioredis.Redis, names: Iterable[str], *, prelude: Sequence[str]
    ) -> None:
        self._client = client
        head = "".join(script_text(each) + "\n" for each in prelude)
        bodies = {name: script_text(name) for name in names}
        digest = hashlib.sha1(
            (head + "".join(f"--{name}\n{body}" for name, body in bodies.items())).encode()
        ).hexdigest()[:16]
        self.name = f"concert_{digest}"
        self._functions = {name: f"{self.name}_{name}" for name in bodies}
        self._code = "\n".join(
            [
                f"#!lua name={self.name}",
                head,
                *(
                    f"redis.register_function('{self._functions[name]}', function(keys, args)\n"
                    f"begin(keys, args)\n{body}\nend)"
                    for name, body in bodies.items()
                ),
            ]
        )

    @property
    def names(self) -> tuple[str, ...]:
        """The scripts it holds."""
        return tuple(self._functions)

    def function(self, name: str) -> LibraryFunction:
        return LibraryFunction(self, self._functions[name])

    async def load(self) -> None:
        await _awaited(self._client.function_load(self._code, replace=True))

    async def call(self, function: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """The function's reply. As redis-py sends a script (by its digest, loading it
        and sending it again on ``NOSCRIPT``), the function is called straight away
        and, if Redis has no such function, the library is loaded by this caller and
        the function called again: concurrent calls each take the same steps, so
        calls sent in order stay in order."""
        try:
            return await _awaited(self._client.fcall(function, len(keys), *keys, *args))
        except redis_errors.ResponseError as error:
            if "Function not found" not in str(error):
                raise
        await self.load()
        return await _awaited(self._client.fcall(function, len(keys), *keys, *args))


def _awaited(reply: Awaitable[Any] | Any) -> Awaitable[Any]:
    """An asyncio client's reply, which redis-py types as sync or async."""
    return cast("Awaitable[Any]", reply)


class LibraryFunction:
    """One function of a ``ScriptLibrary``, called like a registered script."""

    def __init__(self, library: ScriptLibrary, function: str) -> None:
        self._library = library
        self._function = function

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        return await self._library.call(self._function, keys, args)
