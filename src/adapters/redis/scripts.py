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
import logging
from collections.abc import Awaitable, Iterable, Sequence
from importlib import resources
from typing import Any, cast

import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.commands.core import AsyncScript

from adapters.redis.errors import unavailable_on_redis_errors

_log = logging.getLogger(__name__)

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


_NO_FUNCTIONS = ("unknown command", "noperm", "no permissions", "not supported", "unsupported")
"""What a Redis (or a proxy in front of one) says when functions cannot be used there."""


class ScriptLibrary:
    """Scripts run as the functions of one Redis function library: ``prelude`` (the
    text of those scripts, in order) heads the library, and each script's body
    becomes a function that calls the prelude's ``begin(keys, args)`` first, so the
    body reads ``KEYS`` and ``ARGV`` as it would in a script.

    The library is named by a digest of its text, so instances running different
    versions never replace each other's functions, and loaded (``FUNCTION LOAD
    REPLACE``, which is idempotent) by ``load`` at start-up and whenever Redis says a
    function is not found (a Redis restarted without persistence, or its functions
    flushed). Where functions cannot be used (a user without the ``FUNCTION`` command,
    a proxy that does not pass it, a cluster whose node lacks the library even after a
    load), the same bodies run as ordinary scripts (``EVALSHA``), each with the whole
    prelude: slower, the same answers. Each function is called like a registered
    script: ``await f(keys, args)``.
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
        # The same bodies as scripts: KEYS and ARGV are taken before the prelude
        # declares its own (which begin() then sets).
        self._script_texts = {
            self._functions[name]: f"local keys_, args_ = KEYS, ARGV\n{head}\n"
            f"begin(keys_, args_)\n{body}"
            for name, body in bodies.items()
        }
        self._scripts: dict[str, AsyncScript] | None = None
        """Set once functions have been found unusable here."""

    @property
    def names(self) -> tuple[str, ...]:
        """The scripts it holds."""
        return tuple(self._functions)

    @property
    def uses_functions(self) -> bool:
        return self._scripts is None

    def function(self, name: str) -> LibraryFunction:
        return LibraryFunction(self, self._functions[name])

    async def load(self) -> None:
        """Load the library, or turn to scripts if functions cannot be used here."""
        if self._scripts is not None:
            return
        try:
            await _awaited(self._client.function_load(self._code, replace=True))
        except redis_errors.ResponseError as error:
            if not _unusable(error):
                raise
            self._use_scripts(error)

    async def call(self, function: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """The function's reply. As redis-py sends a script (by its digest, loading it
        and sending it again on ``NOSCRIPT``), the function is called straight away
        and, if Redis has no such function, the library is loaded by this caller and
        the function called again: concurrent calls each take the same steps, so
        calls sent in order stay in order."""
        for attempt in range(2):
            if self._scripts is not None:
                break
            try:
                return await _awaited(self._client.fcall(function, len(keys), *keys, *args))
            except redis_errors.ResponseError as error:
                if not (_not_found(error) or _unusable(error)):
                    raise
                if attempt == 0:
                    await self.load()  # or turns to scripts, if functions are refused
                else:
                    self._use_scripts(error)  # loaded, and still not found here
        assert self._scripts is not None
        return await self._scripts[function](keys, args)

    def _use_scripts(self, error: BaseException) -> None:
        if self._scripts is None:
            _log.warning("redis functions unusable here (%s): the queue runs as scripts", error)
            self._scripts = {
                function: self._client.register_script(text)
                for function, text in self._script_texts.items()
            }


def _not_found(error: BaseException) -> bool:
    return "function not found" in str(error).lower()


def _unusable(error: BaseException) -> bool:
    message = str(error).lower()
    return isinstance(error, redis_errors.NoPermissionError) or any(
        words in message for words in _NO_FUNCTIONS
    )


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
