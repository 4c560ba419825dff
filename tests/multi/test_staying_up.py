"""The scaled shape (PostgreSQL + Redis) under 20,000 connections that never finish a
request (docs/contract.md §9): one instance takes the flood, and a fan on another
address joins and polls through it."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from integration.staying_up import fan_under_attack
from integration.test_staying_up import assert_fan_served_and_slow_clients_bounded
from multi.conftest import Cluster

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_a_fan_is_served_within_a_second_while_20000_connections_never_finish_a_request(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster = start_cluster()
    port = int(cluster.root(0).rsplit(":", 1)[1])
    outcome = fan_under_attack(cluster.api(0), port)
    assert_fan_served_and_slow_clients_bounded(outcome)
    assert httpx.get(f"{cluster.root(0)}/health", timeout=2).status_code == 200
