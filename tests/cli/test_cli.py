"""The ``concert`` CLI: every command, its output, and its exit codes."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest

from cli.helpers import concert
from entrypoints.storage_admin import latest_schema_revision
from services import REDIS_URL, unavailable


@pytest.fixture
def seeded(env: dict[str, str]) -> dict[str, str]:
    assert concert(env, "db", "upgrade")[0] == 0
    assert concert(env, "seed", "--concerts", "2", "--dates", "3")[0] == 0
    return env


def test_every_command_has_help(env: dict[str, str]) -> None:
    for command in (
        [],
        ["serve"],
        ["db", "upgrade"],
        ["seed"],
        ["queue", "admit"],
        ["queue", "stats"],
        ["expire"],
        ["wallet", "charge"],
        ["wallet", "show"],
        ["concerts", "add"],
        ["concerts", "list"],
        ["sale", "show"],
        ["sale", "set"],
        ["admin", "key"],
    ):
        code, output = concert(env, *command, "--help")
        assert code == 0, command
        assert "Usage" in output


def test_db_upgrade_migrates_and_is_safe_to_run_again(env: dict[str, str]) -> None:
    assert concert(env, "db", "upgrade")[0] == 0
    code, output = concert(env, "db", "upgrade")
    assert code == 0
    assert f"revision {latest_schema_revision()}" in output


def test_commands_refuse_an_unmigrated_database(env: dict[str, str]) -> None:
    code, output = concert(env, "queue", "stats")
    assert code == 1
    assert "concert db upgrade" in output


def test_seed_adds_the_demo_once(seeded: dict[str, str]) -> None:
    code, output = concert(seeded, "seed", "--concerts", "2", "--dates", "3")
    assert code == 0
    assert "0 concerts added, 2 in all" in output
    code, output = concert(seeded, "queue", "stats")
    assert code == 0
    assert "│ 1 " in output
    assert "│ 2 " in output
    assert "│ 3 " not in output


def test_seed_shows_progress_and_validates_its_options(env: dict[str, str]) -> None:
    concert(env, "db", "upgrade")
    code, output = concert(env, "seed", "--concerts", "1", "--dates", "2", "--price", "50000")
    assert code == 0
    assert "seeding" in output
    assert "100%" in output
    assert "1 concerts added" in output
    assert concert(env, "seed", "--price", "5")[0] == 2
    assert concert(env, "seed", "--dates", "0")[0] == 2


def test_wallet_charge_and_show(seeded: dict[str, str]) -> None:
    user = str(uuid.uuid4())
    code, output = concert(seeded, "wallet", "charge", user, "50000")
    assert (code, output.strip()) == (0, f"{user} balance 50,000 won")
    concert(seeded, "wallet", "charge", user, "25000")
    code, output = concert(seeded, "wallet", "show", user)
    assert (code, output.strip()) == (0, f"{user} balance 75,000 won")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["wallet", "charge", "not-a-uuid", "100"], 2, "VALIDATION_ERROR"),
        (["wallet", "charge", str(uuid.uuid4()), "0"], 2, "VALIDATION_ERROR"),
        (["wallet", "charge", str(uuid.uuid4()), "10000001"], 2, "VALIDATION_ERROR"),
        (["wallet", "charge", str(uuid.uuid4()), "lots"], 2, "not a whole number"),
        (["wallet", "show", "nobody"], 2, "VALIDATION_ERROR"),
        (["queue", "stats", "--concert", "99"], 1, "NOT_FOUND"),
        (["queue", "admit", "--concert", "99"], 1, "NOT_FOUND"),
        (["queue", "admit", "--concert", "zero"], 2, ""),
    ],
)
def test_bad_arguments_fail_in_one_line_with_a_non_zero_code(
    seeded: dict[str, str], args: list[str], code: int, message: str
) -> None:
    got, output = concert(seeded, *args)
    assert got == code
    assert message in output
    if message:  # the CLI's own refusals (the argument parser's usage errors aside)
        assert output.strip().count("\n") == 0
        assert output.startswith("error: ")


def test_queue_admit_and_stats_and_expire(seeded: dict[str, str]) -> None:
    code, output = concert(seeded, "queue", "admit")
    assert code == 0
    assert "concert 1: 0 admitted" in output
    code, output = concert(seeded, "queue", "admit", "--concert", "2")
    assert (code, output.strip()) == (0, "concert 2: 0 admitted")
    code, output = concert(seeded, "expire")
    assert (code, output.strip()) == (0, "0 tokens expired, 0 holds released")


def test_bad_configuration_is_exit_code_2(seeded: dict[str, str]) -> None:
    code, output = concert({**seeded, "CONCERT_ACTIVE_CAPACITY": "lots"}, "queue", "stats")
    assert code == 2
    assert "CONCERT_ACTIVE_CAPACITY" in output


def test_an_unreachable_database_is_a_clear_error() -> None:
    env = {"CONCERT_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    code, output = concert(env, "queue", "stats")
    assert code == 1
    assert "SERVICE_UNAVAILABLE" in output
    assert "Traceback" not in output


def test_serve_refuses_several_workers_on_memory_storage() -> None:
    code, output = concert({"CONCERT_DATABASE_URL": "memory://"}, "serve", "--workers", "2")
    assert code == 2
    assert "in-memory" in output


@pytest.mark.parametrize(
    ("url", "code", "message"),
    [
        ("garbage", 2, "CONCERT_DATABASE_URL"),
        ("mysql://x", 2, "CONCERT_DATABASE_URL"),
        ("sqlite:///plain.db", 2, "CONCERT_DATABASE_URL"),
        ("sqlite+aiosqlite:////nonexistent-dir/sub/x.db", 1, "unable to open database file"),
    ],
)
def test_a_database_url_that_cannot_work_is_one_clear_line(
    url: str, code: int, message: str
) -> None:
    got, output = concert({"CONCERT_DATABASE_URL": url}, "db", "upgrade")
    assert got == code
    assert message in output
    assert output.strip().count("\n") == 0
    assert "Traceback" not in output


def test_a_file_that_is_not_a_database_is_one_clear_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    code, output = concert({"CONCERT_DATABASE_URL": f"sqlite+aiosqlite:///{junk}"}, "db", "upgrade")
    assert code == 1
    assert output.startswith("error: ")
    assert output.strip().count("\n") == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379",
        "redis://",
        "redis://:notaport/0",
        "redis://[::1",
        "redis://127.0.0.1:6379/abc",
        "redis://127.0.0.1:6379/0?socket_timeout=abc",
    ],
)
def test_a_redis_url_that_is_not_one_is_refused_naming_the_variable(
    seeded: dict[str, str], url: str
) -> None:
    code, output = concert({**seeded, "CONCERT_REDIS_URL": url}, "queue", "stats")
    assert code == 2
    assert output.startswith("error: CONCERT_REDIS_URL=")
    assert output.strip().count("\n") == 0


@pytest.mark.redis
def test_a_redis_that_refuses_its_settings_is_refused_naming_the_variable(
    seeded: dict[str, str],
) -> None:
    env = {**seeded, "CONCERT_REDIS_URL": f"{REDIS_URL.rsplit('/', 1)[0]}/999"}
    for command in (["queue", "stats"], ["serve", "--port", "1"]):
        code, output = concert(env, *command)
        if "Connection refused" in output or "connecting" in output:
            unavailable("Redis", RuntimeError(output))
        assert code == 2, output
        assert output.startswith("error: CONCERT_REDIS_URL: Redis refuses it: DB index")


def test_an_unreachable_redis_is_one_clear_line(seeded: dict[str, str]) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    env = {**seeded, "CONCERT_REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    code, output = concert(env, "queue", "admit")
    assert code == 1
    assert output.startswith("error: SERVICE_UNAVAILABLE: Redis is unavailable")
    assert output.strip().count("\n") == 0


@pytest.mark.parametrize("amount", ["١٠٠", "1,0,0", "1_000", "50,000", "+5", " 5", "5.0", "1e3"])
def test_amounts_are_ascii_digits_only(seeded: dict[str, str], amount: str) -> None:
    user = str(uuid.uuid4())

    code, output = concert(seeded, "wallet", "charge", user, amount)

    assert code == 2
    assert output.strip() == (
        f"error: amount {amount!r} is not a whole number: write digits only, like 50000"
    )
    assert concert(seeded, "wallet", "show", user)[1].strip() == f"{user} balance 0 won"


def test_serve_on_a_port_in_use_fails_in_one_line(seeded: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, output = concert(seeded, "serve", "--port", str(port))
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in output
