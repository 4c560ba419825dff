"""The ASGI application a server process runs: settings from the environment, with
the background loops on."""

from __future__ import annotations

import os

from litestar import Litestar

from entrypoints.http import create_app
from entrypoints.settings import Settings


def app_from_env() -> Litestar:
    return create_app(Settings.from_env(os.environ), background=True)
