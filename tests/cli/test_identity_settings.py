"""The ``CONCERT_IDENTITY_*`` settings (docs/contract.md §9), and what ``concert serve``
says when it listens beyond loopback with identity off."""

from __future__ import annotations

from typing import Any

import pytest

from cli.helpers import concert
from entrypoints.cli import serve as serve_module
from entrypoints.settings import Settings, SettingsError
from identity_support import SECRET, provider_keys

MEMORY = {"CONCERT_DATABASE_URL": "memory://"}


def test_identity_is_off_unless_a_key_or_a_jwks_url_is_set() -> None:
    assert not Settings.from_env(MEMORY).identity_on
    assert Settings.from_env(MEMORY | {"CONCERT_IDENTITY_KEY": SECRET}).identity_on
    jwks = Settings.from_env(
        MEMORY
        | {
            "CONCERT_IDENTITY_JWKS_URL": "https://id.example.test/.well-known/jwks.json",
            "CONCERT_IDENTITY_ISSUER": "https://id.example.test/",
            "CONCERT_IDENTITY_AUDIENCE": "concert",
        }
    )
    assert jwks.identity_on
    assert (jwks.identity_issuer, jwks.identity_audience) == ("https://id.example.test/", "concert")


def test_a_pem_public_key_is_a_key() -> None:
    settings = Settings.from_env(MEMORY | {"CONCERT_IDENTITY_KEY": provider_keys().ec_pem})
    assert settings.identity_on


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CONCERT_IDENTITY_KEY": "short-secret"}, "CONCERT_IDENTITY_KEY: a shared secret must"),
        (
            {"CONCERT_IDENTITY_KEY": "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----"},
            "CONCERT_IDENTITY_KEY: expected a PEM public key",
        ),
        (
            {"CONCERT_IDENTITY_KEY": SECRET, "CONCERT_IDENTITY_JWKS_URL": "https://id.test/k"},
            "are both set",
        ),
        ({"CONCERT_IDENTITY_ISSUER": "https://id.test/"}, "CONCERT_IDENTITY_ISSUER needs"),
        ({"CONCERT_IDENTITY_AUDIENCE": "concert"}, "CONCERT_IDENTITY_AUDIENCE needs"),
        ({"CONCERT_IDENTITY_JWKS_URL": "http://id.example.test/jwks"}, "expected https://"),
        ({"CONCERT_IDENTITY_JWKS_URL": "file:///etc/passwd"}, "expected https://"),
        ({"CONCERT_IDENTITY_JWKS_URL": "https://:443/jwks"}, "expected https://"),
        ({"CONCERT_IDENTITY_JWKS_URL": "https://id.test:port/jwks"}, "expected https://"),
    ],
)
def test_identity_settings_the_service_cannot_use_are_refused(
    env: dict[str, str], expected: str
) -> None:
    with pytest.raises(SettingsError, match=expected) as refusal:
        Settings.from_env(MEMORY | env)
    assert "short-secret" not in str(refusal.value)  # a secret is never repeated


def test_plain_http_is_taken_for_a_jwks_on_this_machine() -> None:
    for url in ("http://127.0.0.1:8080/jwks", "http://localhost/jwks", "http://[::1]:80/jwks"):
        assert Settings.from_env(MEMORY | {"CONCERT_IDENTITY_JWKS_URL": url}).identity_on


def test_a_bad_identity_setting_stops_a_command_in_one_line() -> None:
    code, output = concert(MEMORY | {"CONCERT_IDENTITY_KEY": "short-secret"}, "queue", "stats")
    assert code == 2
    assert output.strip().startswith("error: CONCERT_IDENTITY_KEY: a shared secret must be")
    assert "short-secret" not in output


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """``concert serve`` runs up to uvicorn, which is not started: its calls are kept."""
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    return calls


WARNING = "warning: listening on"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.test"])
def test_serve_warns_when_identity_is_off_beyond_loopback(
    served: list[dict[str, Any]], host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve_module.socket.socket, "bind", lambda self, address: None)
    code, output = concert(MEMORY, "serve", "--host", host, "--port", "8765")
    assert code == 0, output
    assert f"{WARNING} {host} with verified identity off" in output
    assert served and served[0]["host"] == host


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_serve_says_nothing_on_loopback(
    served: list[dict[str, Any]], host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve_module.socket.socket, "bind", lambda self, address: None)
    code, output = concert(MEMORY, "serve", "--host", host, "--port", "8765")
    assert code == 0, output
    assert WARNING not in output


def test_serve_says_nothing_when_identity_is_on(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve_module.socket.socket, "bind", lambda self, address: None)
    env = MEMORY | {"CONCERT_IDENTITY_KEY": SECRET}
    code, output = concert(env, "serve", "--host", "0.0.0.0", "--port", "8765")
    assert code == 0, output
    assert WARNING not in output
