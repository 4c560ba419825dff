"""The README's curl walk-through, run as written against a real `concert serve`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from integration.conftest import CONCERT, free_port, wait_until_up

README = Path(__file__).parents[2] / "README.md"


def walk_section() -> str:
    text = README.read_text()
    start = text.index("## A fan's journey, with curl")
    return text[start : text.index("\n## ", start + 1)]


def blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


def json_values(text: str) -> list[object]:
    """The JSON documents printed one after another (curl adds no newline)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := len(text) - len(text[at:].lstrip())) < len(text):
        value, at = decoder.raw_decode(text, at)
        found.append(value)
    return found


def shape(value: object) -> object:
    """What a reply looks like without its ids, times and trimmed parts: keys and enums."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items() if k not in {"token"}}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, str) and value in {"WAITING", "ACTIVE", "EXPIRED", "HELD", "CONFIRMED"}:
        return value
    return type(value).__name__


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl, jq")
def test_the_readme_curl_walk_works_as_written(environment: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    environment = {**environment, "CONCERT_ACTIVE_CAPACITY": "100"}
    server = subprocess.Popen(
        [*CONCERT, "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}", server)
        section = walk_section()
        # A reader takes more than the admission interval between steps.
        script = "\nsleep 1\n".join(blocks(section, "sh")).replace(":8000", f":{port}")
        ran = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert ran.returncode == 0, ran.stderr
    got = [shape(reply) for reply in json_values(ran.stderr) + json_values(ran.stdout)]
    documented = [
        json.loads(line)
        for block in blocks(section, "json")
        for line in block.splitlines()
        if line and "…" not in line
    ]
    assert len(documented) >= 8
    for reply in documented:  # every documented reply came back, with the same shape
        assert shape(reply) in got, reply
