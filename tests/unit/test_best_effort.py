"""A best-effort step's failure is logged and swallowed; an outage takes one line, a
fault in the code keeps its traceback (operators grep logs for "Traceback")."""

from __future__ import annotations

import logging

import pytest

from concert_core.domain import ServiceUnavailableError
from concert_core.use_cases._best_effort import best_effort

_log = logging.getLogger("best-effort-test")


def test_an_outage_is_one_line_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), best_effort(_log, "the step failed"):
        raise ServiceUnavailableError()
    (record,) = caplog.records
    assert record.exc_info is None
    assert record.getMessage().startswith("the step failed: SERVICE_UNAVAILABLE: ")
    assert "Traceback" not in caplog.text


def test_a_fault_in_the_code_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), best_effort(_log, "the step failed"):
        raise KeyError("bug")
    (record,) = caplog.records
    assert record.exc_info is not None and record.exc_info[0] is KeyError
    assert "Traceback" in caplog.text


def test_a_step_that_works_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), best_effort(_log, "the step failed"):
        pass
    assert caplog.records == []
