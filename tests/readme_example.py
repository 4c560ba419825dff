"""Runs the README's library example: `make run` shows it, a test checks it."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


def run() -> None:
    exec(compile(blocks("python")[0], str(README), "exec"), {"__name__": "__main__"})


if __name__ == "__main__":
    run()
