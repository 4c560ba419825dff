"""The library as a developer meets it: the README example and the core's imports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import readme_example

CORE = Path(__file__).resolve().parents[2] / "src" / "concert_core"


def test_the_readme_library_example_runs_a_whole_fan_journey(
    capsys: object,
) -> None:
    readme_example.run()
    printed = capsys.readouterr().out  # type: ignore[attr-defined]
    expected = readme_example.blocks("text")[0]
    assert printed == expected


def test_the_core_imports_only_the_standard_library_and_attrs() -> None:
    allowed = set(sys.stdlib_module_names) | {"attrs", "concert_core"}
    found: set[str] = set()
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    assert found, "the scan found no imports at all"
    assert found <= allowed, f"the core imports {sorted(found - allowed)}"
