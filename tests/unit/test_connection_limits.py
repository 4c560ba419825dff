"""The connection settings and how connections are counted per address
(docs/contract.md §9); the bounds at work are tests/integration/test_staying_up.py."""

from __future__ import annotations

import pytest

from entrypoints.connections import address_key
from entrypoints.settings import Settings, SettingsError


def test_defaults_close_slow_heads_after_5_s_and_bound_an_address_at_256() -> None:
    settings = Settings.from_env({})
    assert settings.header_timeout_seconds == 5.0
    assert settings.max_connections_per_address == 256


def test_settings_are_read_and_0_turns_the_bound_off() -> None:
    settings = Settings.from_env(
        {"CONCERT_HEADER_TIMEOUT_SECONDS": "2.5", "CONCERT_MAX_CONNECTIONS_PER_ADDRESS": "0"}
    )
    assert settings.header_timeout_seconds == 2.5
    assert settings.max_connections_per_address == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HEADER_TIMEOUT_SECONDS", "0"),
        ("HEADER_TIMEOUT_SECONDS", "-1"),
        ("HEADER_TIMEOUT_SECONDS", "301"),
        ("HEADER_TIMEOUT_SECONDS", "soon"),
        ("MAX_CONNECTIONS_PER_ADDRESS", "-1"),
        ("MAX_CONNECTIONS_PER_ADDRESS", "1.5"),
        ("MAX_CONNECTIONS_PER_ADDRESS", "1000001"),
    ],
)
def test_unusable_values_are_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"CONCERT_{name}"):
        Settings.from_env({f"CONCERT_{name}": value})


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("/run/concert.sock", "/run/concert.sock"),
    ],
)
def test_an_ipv4_address_or_an_ipv6_64_is_one_client(host: str, key: str) -> None:
    assert address_key(host) == key
