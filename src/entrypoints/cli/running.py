"""How every ``concert`` command runs: settings read, storage checked and opened, its
coroutine run, and whatever stops it said in one line with its exit code.

Exit codes: 0 done; 1 the service refused (a domain error, or storage unreachable);
2 a mistake: bad arguments (the CLI's own reading, or the service's VALIDATION_ERROR)
or configuration. Errors are one line on standard error.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from concert_core import ConcertService
from concert_core.domain import DomainError, ServiceUnavailableError, ValidationError
from entrypoints import storage_admin
from entrypoints.cli.arguments import ArgumentError
from entrypoints.container import Container, Storage, opened
from entrypoints.settings import Settings, SettingsError

_T = TypeVar("_T")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"error: {message}", markup=False, soft_wrap=True)
    raise typer.Exit(code)


def read_settings() -> Settings:
    """The settings the environment gives; bad ones end the command (exit 2)."""
    try:
        config = Settings.from_env(os.environ)
    except SettingsError as error:
        fail(str(error), 2)
    return config


@contextlib.contextmanager
def reading_arguments() -> Iterator[None]:
    """Around reading a command's arguments: a mistake is one line and exit 2."""
    try:
        yield
    except ArgumentError as error:
        fail(str(error), 2)
    except ValidationError as error:
        fail(f"{error.code}: {error.detail}", 2)


def run(work: Coroutine[Any, Any, _T]) -> _T:
    """Run a command's coroutine. Whatever stops it is one line on standard error: a
    domain error (exit 1, with the storage's own reason when it is unreachable), a
    mistake in what was asked or in the configuration (exit 2), or anything else the
    database said (exit 1)."""
    try:
        return asyncio.run(work)
    except ArgumentError as error:
        fail(str(error), 2)
    except ValidationError as error:
        fail(f"{error.code}: {error.detail}", 2)
    except ServiceUnavailableError as error:
        cause = f" ({_one_line(error.__cause__)})" if error.__cause__ else ""
        fail(f"{error.code}: {error.detail}{cause}")
    except DomainError as error:
        fail(f"{error.code}: {error.detail}")
    except SettingsError as error:
        fail(str(error), 2)
    except (typer.Exit, KeyboardInterrupt):
        raise
    except Exception as error:
        fail(f"{type(error).__name__}: {_one_line(error)}")


def _one_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def with_service(work: Callable[[ConcertService], Awaitable[_T]]) -> _T:
    """Run ``work`` on the service the environment describes, its storage open."""
    return with_storage(lambda _, service: work(service))


def with_storage(work: Callable[[Storage, ConcertService], Awaitable[_T]]) -> _T:
    """Run ``work`` on the storage the environment describes, open, and its service
    (for what only storage knows: the operator key, the shared clock)."""
    config = read_settings()
    require_usable_storage(config)

    async def go() -> _T:
        async with opened(Container(settings=config)) as (storage, service):
            return await work(storage, service)

    return run(go())


def require_usable_storage(config: Settings) -> None:
    """Refuse, in one line, a database that is not migrated or a Redis that refuses its
    settings; an unreachable one is left for the command to meet (and serve to ride
    out)."""
    if not config.in_memory:
        run(_require_migrated(config))
    if config.redis_url is None:
        return
    if (reason := run(storage_admin.redis_refusal(config.redis_url))) is not None:
        fail(f"CONCERT_REDIS_URL: Redis refuses it: {reason}", 2)


async def _require_migrated(config: Settings) -> None:
    current = await storage_admin.schema_revision(config)
    if current != storage_admin.latest_schema_revision():
        fail(
            f"the database at {config.database_url} is not migrated "
            f"(at {current or 'nothing'}): run `concert db upgrade`"
        )
