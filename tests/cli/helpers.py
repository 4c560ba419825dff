"""Running ``concert`` commands in-process."""

from __future__ import annotations

from typer.testing import CliRunner

from entrypoints.cli import app

runner = CliRunner()


def concert(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run ``concert *args`` with ``env`` as its environment: its exit code and output
    (standard output and error together)."""
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output
