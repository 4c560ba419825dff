"""The REST API (Litestar): ``create_app(settings)`` builds it."""

from entrypoints.http.app import create_app

__all__ = ["create_app"]
