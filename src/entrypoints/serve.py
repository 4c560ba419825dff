"""The ASGI application a server process runs: settings from the environment, with
the background loops on."""

from __future__ import annotations

import logging
import os

from litestar import Litestar

from entrypoints.connections import ConnectionLimits
from entrypoints.http import create_app
from entrypoints.settings import Settings


def app_from_env() -> Litestar:
    # Each server process logs warnings (a storage outage's cause, a failing loop) with
    # uvicorn's own lines; the CLI's quiet default is for one-shot commands.
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.WARNING)
    settings = Settings.from_env(os.environ)
    ConnectionLimits.configure(settings)  # before uvicorn accepts the first connection
    return create_app(settings, background=True)
