from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A fresh SQLite file; the default policy."""
    return {"CONCERT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db"}
