"""The ``concert`` admin CLI (Typer)."""

from entrypoints.cli.app import app, main

__all__ = ["app", "main"]
