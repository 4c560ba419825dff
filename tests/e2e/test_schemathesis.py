"""Property-based tests from the app's own OpenAPI document (schemathesis).

Every operation is called with generated requests, valid (``positive``) and invalid
(``negative``), carrying the token of a fan who is ACTIVE for a seeded concert so that
token-gated operations get past the gate, and the operator key on the admin routes. No
reply may be a 5xx, and every reply must match the document: status, content type,
headers and body schema, problems included.

Schemathesis drives the app through its ASGI transport, on an event loop of its own.
Its pytest plugin's lazy loader does not work with this pytest (it writes
``node._nodeid``), so the operations are parametrised here and each one is run as a
Hypothesis test built from ``operation.as_strategy``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from attrs import evolve
from dependency_injector import providers
from hypothesis import HealthCheck, given, settings
from litestar import Litestar
from schemathesis import GenerationMode, checks
from schemathesis.python.asgi import shutdown_lifespans

from adapters.clock import ManualClock
from concert_core import Policy
from concert_core.use_cases import IssueTokenCommand
from entrypoints.container import Container
from entrypoints.http import create_app
from entrypoints.settings import MEMORY_URL, Settings
from support import schedule

MAX_EXAMPLES = 30
ADMIN_KEY = "schemathesis-operator-" + "k" * 32
EXCLUDED_CHECKS = [
    # Valid data may still be refused by the rules (a seat already held, an unknown
    # concert): the document cannot say which ids exist.
    checks.positive_data_acceptance,
    # Need links between operations, which the document does not declare.
    checks.use_after_free,
    checks.ensure_resource_availability,
    checks.object_level_authorization,
]


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """The document's operations, read from an app that is built but not started, each
    with valid input and, when it takes any input, invalid input too."""
    document = create_app(Settings(database_url=MEMORY_URL)).openapi_schema.to_schema()
    cases = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            cases.append((method.upper(), path, GenerationMode.POSITIVE))
            if operation.get("parameters") or operation.get("requestBody"):
                cases.append((method.upper(), path, GenerationMode.NEGATIVE))
    return cases


@pytest.fixture
def seeded_app(storage: Settings, clock: ManualClock) -> Iterator[tuple[Litestar, dict[str, str]]]:
    """An app whose start-up schedules a concert and lets one fan in (the start-up runs
    on schemathesis' loop, as every request does)."""
    settings = evolve(
        storage,
        policy=Policy(active_capacity=5),
        admin_key=ADMIN_KEY,
        rate_limit_joins_per_minute=0,  # schemathesis joins far more than 60 times a minute
    )
    container = Container(settings=settings)
    container.clock.override(providers.Object(clock))
    app = create_app(settings, container=container)
    seeded: dict[str, str] = {}

    async def seed(app: Litestar) -> None:
        service = app.state.service
        concert = await schedule(service)
        ticket = await service.issue_token(IssueTokenCommand(uuid.uuid4(), concert.concert_id))
        await service.admit_waiting(concert.concert_id)
        seeded["token"] = ticket.token

    app.on_startup.append(seed)
    try:
        yield app, seeded
    finally:
        shutdown_lifespans()


@pytest.mark.parametrize(("method", "path", "mode"), _cases())
def test_the_api_honours_its_openapi_document(
    seeded_app: tuple[Litestar, dict[str, str]], method: str, path: str, mode: GenerationMode
) -> None:
    app, seeded = seeded_app
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    schema.config.generation.update(
        # Unknown query parameters and body fields are ignored, as HTTP APIs do; the
        # token is always sent (below), so schemathesis must not count on leaving it out.
        allow_extra_parameters=False,
        with_security_parameters=False,
    )
    operation = schema[path][method]
    key = ADMIN_KEY if path.startswith("/api/v1/admin") else seeded["token"]
    auth = {"Authorization": f"Bearer {key}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        reply = case.call_and_validate(headers=auth, excluded_checks=EXCLUDED_CHECKS)
        statuses.append(reply.status_code)

    statuses: list[int] = []
    call()
    if path.startswith("/api/v1/admin"):
        assert 401 not in statuses  # the operator key was taken: the routes were reached
