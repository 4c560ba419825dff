"""The operator's on-sale with the CLI alone: add a concert, schedule it, watch it,
pause and resume it, see it sold out; the operator key; mistakes in one line, exit 2.

Commands that must find what an earlier command stored run on a migrated SQLite file
(``seeded``/``migrated``); the rest run on ``memory://``, where each command is a
process of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from cli.helpers import concert
from concert_core.use_cases import (
    ChargeCommand,
    HoldSeatCommand,
    IssueTokenCommand,
    PayCommand,
)
from entrypoints.container import Container, opened
from entrypoints.settings import Settings

MEMORY = {"CONCERT_DATABASE_URL": "memory://"}
DAY = (dt.date.today() + dt.timedelta(days=30)).isoformat()
OTHER_DAY = (dt.date.today() + dt.timedelta(days=31)).isoformat()
ADD = ["concerts", "add", "--title", "Winter Lights", "--venue", "Olympic Hall"]


@pytest.fixture
def migrated(env: dict[str, str]) -> dict[str, str]:
    assert concert(env, "db", "upgrade")[0] == 0
    return env


def as_json(output: str) -> Any:
    return json.loads(output)


def one_line_error(output: str) -> str:
    assert output.startswith("error: "), output
    assert output.strip().count("\n") == 0, output
    return output.strip()


# --- memory: one command, one process --------------------------------------------------


def test_adding_a_concert_prints_its_view(tmp_path: Path) -> None:
    code, output = concert(
        MEMORY, *ADD, "--date", DAY, "--date", OTHER_DAY, "--price", "100000",
        "--prequeue-opens-at", "+1m", "--opens-at", "+2m",
    )  # fmt: skip

    assert code == 0, output
    assert "Winter Lights, Olympic Hall (SCHEDULED)" in output
    assert "(in 1m)" in output
    assert "(in 2m)" in output
    assert f"│ {DAY} │ 50 " in output
    assert "waiting 0 · active 0 of 100" in output


def test_adding_a_concert_with_json_prints_the_admin_apis_view(tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(list(range(1_000, 51_000, 1_000))))

    code, output = concert(
        MEMORY, *ADD, "--date", DAY, "--prices-file", str(prices),
        "--opens-at", "2030-01-01T20:00:00+09:00", "--closes-at", "2030-01-02T00:00:00Z",
        "--json",
    )  # fmt: skip

    assert code == 0, output
    view = as_json(output)
    assert set(view) == {"concert_id", "title", "venue", "dates", "sale", "queue", "revenue"}
    assert view["dates"] == [{"date": DAY, "available": 50, "held": 0, "sold": 0}]
    assert view["sale"]["phase"] == "SCHEDULED"
    assert view["sale"]["opens_at"] == "2030-01-01T11:00:00Z"
    assert view["sale"]["closes_at"] == "2030-01-02T00:00:00Z"
    assert view["sale"]["prequeue_opens_at"] is None


def test_a_prices_file_may_list_one_price_a_line(tmp_path: Path) -> None:
    prices = tmp_path / "prices.txt"
    prices.write_text("\n".join(["30000"] * 10 + ["20000"] * 40) + "\n")

    code, output = concert(MEMORY, *ADD, "--date", DAY, "--prices-file", str(prices), "--json")

    assert code == 0, output
    assert as_json(output)["sale"]["phase"] == "OPEN"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--date", DAY], "give either --price (a base price) or --prices-file"),
        (["--date", DAY, "--price", "1", "--prices-file", "x"], "give either --price"),
        (["--date", DAY, "--price", "1,000"], "--price '1,000' is not a whole number"),
        (["--date", DAY, "--price", "-5"], "--price '-5' is not a whole number"),
        (["--date", DAY, "--price", "99999999"], "VALIDATION_ERROR: price must be"),
        (["--date", "2020-01-01", "--price", "1"], "date 2020-01-01 is in the past"),
        (["--date", "tomorrow", "--price", "1"], "VALIDATION_ERROR: date must be a calendar date"),
        (["--date", DAY, "--date", DAY, "--price", "1"], "VALIDATION_ERROR: dates must not repeat"),
        (["--date", DAY, "--price", "1", "--opens-at", "tomorrow"], "'tomorrow' is not a time"),
        (["--date", DAY, "--price", "1", "--opens-at", "2030-01-01T20:00:00"], "is not a time"),
        (["--date", DAY, "--price", "1", "--opens-at", "+2y"], "is not a time"),
        (
            ["--date", DAY, "--price", "1", "--opens-at", "+1m", "--prequeue-opens-at", "+2m"],
            "VALIDATION_ERROR: prequeue_opens_at must not be after opens_at",
        ),
        (
            ["--date", DAY, "--price", "1", "--prequeue-opens-at", "+2m"],
            "VALIDATION_ERROR: a pre-queue needs an opening time",
        ),
        (["--date", DAY, "--prices-file", "/nonexistent/prices"], "cannot read --prices-file"),
    ],
)  # fmt: skip
def test_a_mistake_in_a_new_concert_is_one_line_and_exit_2(args: list[str], says: str) -> None:
    code, output = concert(MEMORY, *ADD, *args)

    assert code == 2, output
    assert says in one_line_error(output)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("1 2 3", "lists 3 prices"),
        (json.dumps([1.5] * 50), "not a JSON array of whole numbers"),
        (json.dumps([True] * 50), "not a JSON array of whole numbers"),
        ("[1, 2", "not a JSON array"),
        ("1,000\n" * 50, "'1,000' is not a whole number"),
    ],
)
def test_a_bad_prices_file_is_one_line_and_exit_2(tmp_path: Path, content: str, says: str) -> None:
    prices = tmp_path / "prices"
    prices.write_text(content)

    code, output = concert(MEMORY, *ADD, "--date", DAY, "--prices-file", str(prices))

    assert code == 2, output
    assert says in one_line_error(output)


def test_the_operator_key_is_printed_alone_on_standard_output() -> None:
    key = "k" * 40

    code, output = concert(MEMORY | {"CONCERT_ADMIN_KEY": key}, "admin", "key")

    assert code == 0
    assert output.strip().splitlines()[-1] == key


def test_in_memory_the_key_is_the_commands_own_and_it_says_so() -> None:
    code, output = concert(MEMORY, "admin", "key")

    assert code == 0
    assert "in-memory storage makes a new key for every process" in output
    assert len(output.strip().splitlines()[-1]) >= 32


@pytest.mark.parametrize("key", ["short", "has a space in it " + "x" * 32, "ключ" * 10])
def test_a_bad_operator_key_setting_is_refused_without_repeating_it(key: str) -> None:
    code, output = concert(MEMORY | {"CONCERT_ADMIN_KEY": key}, "admin", "key")

    assert code == 2
    assert one_line_error(output).startswith("error: CONCERT_ADMIN_KEY must be")
    assert key not in output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["show", "abc"], "concert id 'abc' is not a whole number"),
        (["show", "0"], "VALIDATION_ERROR: concert_id must be a positive integer"),
        (["set", "1"], "nothing to change"),
        (["set", "1", "--pause", "--resume"], "give --pause or --resume, not both"),
        (["set", "1", "--capacity", "lots"], "--capacity 'lots' is not a whole number"),
        (["set", "1", "--rate", "1,000"], "--rate '1,000' is not a whole number"),
        (["set", "1", "--opens-at", "soon"], "--opens-at 'soon' is not a time"),
    ],
)
def test_a_mistake_in_a_sale_command_is_one_line_and_exit_2(args: list[str], says: str) -> None:
    code, output = concert(MEMORY, "sale", *args)

    assert code == 2, output
    assert says in one_line_error(output)


def test_an_unknown_concert_is_not_found() -> None:
    code, output = concert(MEMORY, "sale", "show", "42")

    assert code == 1
    assert one_line_error(output) == "error: NOT_FOUND: concert 42 does not exist"


# --- SQLite: an on-sale over several commands ------------------------------------------


def sale_of(env: dict[str, str], concert_id: int) -> dict[str, Any]:
    code, output = concert(env, "sale", "show", str(concert_id), "--json")
    assert code == 0, output
    view: dict[str, Any] = as_json(output)
    return view


def test_an_operator_runs_an_on_sale_with_the_cli_alone(migrated: dict[str, str]) -> None:
    code, output = concert(
        migrated, *ADD, "--date", DAY, "--date", OTHER_DAY, "--price", "100000",
        "--prequeue-opens-at", "+1m", "--opens-at", "+2m", "--json",
    )  # fmt: skip
    assert code == 0, output
    cid = as_json(output)["concert_id"]
    assert as_json(output)["sale"]["phase"] == "SCHEDULED"

    code, listed = concert(migrated, "concerts", "list")
    assert code == 0
    assert "│ SCHEDULED │" in listed
    code, listed = concert(migrated, "concerts", "list", "--json")
    assert [(c["concert_id"], c["title"]) for c in as_json(listed)] == [(cid, "Winter Lights")]

    code, shown = concert(migrated, "sale", "show", str(cid))
    assert code == 0
    assert "(SCHEDULED)" in shown
    assert "0/100" not in shown

    message = "[/] Soon! [bold]"  # the operator's text, never taken for markup
    paused = concert(migrated, "sale", "set", str(cid), "--pause", "--message", message, "--json")
    assert paused[0] == 0, paused[1]
    assert as_json(paused[1])["sale"]["paused"] is True
    assert as_json(paused[1])["sale"]["message"] == message
    code, shown = concert(migrated, "sale", "show", str(cid))
    assert code == 0, shown
    assert f"│ message         │ {message}" in shown

    opened_now = concert(
        migrated, "sale", "set", str(cid), "--prequeue-opens-at", "none", "--opens-at", "now",
        "--capacity", "5", "--rate", "60", "--json",
    )  # fmt: skip
    assert opened_now[0] == 0, opened_now[1]
    sale = as_json(opened_now[1])["sale"]
    assert (sale["phase"], sale["capacity"], sale["admission_per_minute"]) == ("PAUSED", 5, 60)

    assert concert(migrated, "sale", "set", str(cid), "--resume")[0] == 0
    resumed = sale_of(migrated, cid)
    assert resumed["sale"]["phase"] == "OPEN"
    assert resumed["sale"]["paused"] is False

    for mistake in (["--capacity", "0"], ["--rate", "0"], ["--message", "m" * 501]):
        code, output = concert(migrated, "sale", "set", str(cid), *mistake)
        assert code == 2, output
        assert one_line_error(output).startswith("error: VALIDATION_ERROR: ")
    assert sale_of(migrated, cid) == resumed  # a mistake changes nothing

    cleared = concert(
        migrated, "sale", "set", str(cid), "--rate", "none", "--message", "", "--json"
    )
    assert as_json(cleared[1])["sale"]["admission_per_minute"] is None
    assert as_json(cleared[1])["sale"]["message"] is None


def test_an_operator_sees_a_concert_sold_out(migrated: dict[str, str]) -> None:
    code, output = concert(migrated, *ADD, "--date", DAY, "--price", "1000", "--json")
    assert code == 0, output
    cid = as_json(output)["concert_id"]

    asyncio.run(_buy_every_seat(migrated, cid))

    view = sale_of(migrated, cid)
    assert view["sale"]["phase"] == "SOLD_OUT"
    assert view["dates"] == [{"date": DAY, "available": 0, "held": 0, "sold": 50}]
    code, listed = concert(migrated, "concerts", "list")
    assert "SOLD_OUT" in listed
    assert "50/50" in listed
    code, stats = concert(migrated, "queue", "stats")
    assert "SOLD_OUT" in stats


async def _buy_every_seat(env: dict[str, str], concert_id: int) -> None:
    """A fan holds all 50 seats and pays for them, through the library."""
    settings = Settings.from_env(env | {"CONCERT_MAX_HOLDS_PER_USER": "50"})
    async with opened(Container(settings=settings)) as (_, service):
        fan = uuid.uuid4()
        ticket = await service.issue_token(IssueTokenCommand(fan, concert_id))
        await service.admit_waiting(concert_id)
        holds = [
            (
                await service.hold_seat(HoldSeatCommand(ticket.token, concert_id, DAY, n))
            ).reservation.reservation_id
            for n in range(1, 51)
        ]
        await service.charge_wallet(ChargeCommand(fan, 10_000_000))
        await service.pay(PayCommand(ticket.token, tuple(holds)))


def test_the_generated_key_is_stored_once_for_every_process(migrated: dict[str, str]) -> None:
    first = concert(migrated, "admin", "key")
    again = concert(migrated, "admin", "key")
    chosen = concert(migrated | {"CONCERT_ADMIN_KEY": "c" * 32}, "admin", "key")

    assert first[0] == again[0] == 0
    assert first[1] == again[1]
    assert len(first[1].strip()) >= 32
    assert chosen[1].strip() == "c" * 32
