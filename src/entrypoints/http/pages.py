"""The fan's page at ``/``, the operator's dashboard at ``/admin``, their static files,
the API docs' viewer served offline, and the security headers (docs/contract.md §10).

The pages are plain HTML, ES modules and CSS from the ``static`` folder beside this
module, served as they are (no build step, no CDN). Only the HTML is touched on the
way out: its ``<html lang>`` and title follow the request's ``Accept-Language``
(English or Korean), the scripts then read the catalogue of that language (and the
fan's own choice, kept in the browser).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.types import Message, Scope

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static"
LANGUAGES = ("en", "ko")
"""The catalogues in ``static/i18n``; the first is the fallback."""
SWAGGER_UI_VERSION = "5.18.2"
"""The vendored Swagger UI (``static/vendor/swagger-ui/README.md``)."""

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""Scripts, styles, workers and requests from the service alone: no inline script, no
``eval``, no other host; no page may frame these."""
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)


_RAW_SECURITY_HEADERS = tuple(
    (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in SECURITY_HEADERS
)


async def security_headers(message: Message, scope: Scope) -> None:
    """An app ``before_send`` hook: every response carries the security headers (a
    JSON reply is as safe with them as a page, and no route is left out by mistake);
    one a response sets itself is left as it is.

    The message's raw header list is read once and extended (Litestar's
    ``MutableScopeHeaders`` decoded every header again for each of the four names, a
    twentieth of a status poll's CPU)."""
    if message["type"] != "http.response.start":
        return
    headers = message.get("headers") or ()
    present = {bytes(name).lower() for name, _ in headers}
    missing = [header for header in _RAW_SECURITY_HEADERS if header[0] not in present]
    if missing:
        message["headers"] = [*headers, *missing]


_QUALITY = re.compile(r"^\s*q\s*=(.*)$")
_WEIGHT = re.compile(r"^\s*(0(\.[0-9]{0,3})?|1(\.0{0,3})?)\s*$")


def pick_language(accept_language: str | None) -> str:
    """The catalogue for an ``Accept-Language`` header: the supported language the
    client ranks highest (by ``q``, then by order), else English."""
    best, best_quality = LANGUAGES[0], 0.0
    for item in (accept_language or "").split(",")[:20]:
        tag, *params = item.strip().split(";")
        primary = tag.strip().lower().split("-")[0]
        quality = 1.0
        for param in params:
            match = _QUALITY.match(param)
            if match:  # a weight that is not one (q=bad) leaves the language out
                weight = _WEIGHT.match(match.group(1))
                quality = float(weight.group(1)) if weight else 0.0
        if primary in LANGUAGES and quality > best_quality:
            best, best_quality = primary, quality
    return best


@functools.cache
def _catalogue(language: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((STATIC_DIR / "i18n" / f"{language}.json").read_text())
    return data


@functools.cache
def _template(name: str) -> str:
    return (STATIC_DIR / name).read_text()


def _page(request: Request[Any, Any, Any], template: str, title_key: str) -> Response[str]:
    language = pick_language(request.headers.get("accept-language"))
    title = _catalogue(language).get(title_key, "")
    html = (
        _template(template)
        .replace("{{lang}}", language)
        .replace("{{title}}", _escape(title))
        .replace("{{static}}", STATIC_PATH)
    )
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-cache", "Vary": "Accept-Language"},
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@get("/", include_in_schema=False, name="fan-page")
async def fan_page(request: Request[Any, Any, Any]) -> Response[str]:
    """The fan's page: concerts, the waiting room, seats, wallet and receipt."""
    return _page(request, "fan.html", "app.title")


@get("/admin", include_in_schema=False, name="admin-page")
async def admin_page(request: Request[Any, Any, Any]) -> Response[str]:
    """The operator's dashboard."""
    return _page(request, "admin.html", "admin.title")


def pages_router() -> Router:
    """The two pages and their static files (``/static/...``)."""
    static = create_static_files_router(
        path=STATIC_PATH,
        directories=[STATIC_DIR],
        include_in_schema=False,
        cache_control=CacheControlHeader(no_cache=True),
    )
    return Router("/", route_handlers=[fan_page, admin_page, static], include_in_schema=False)


class OfflineSwaggerPlugin(OpenAPIRenderPlugin):
    """Swagger UI from the service's own static files: no CDN, no inline script (the
    viewer's set-up is ``static/docs/swagger.js``, so the pages' CSP holds here too)."""

    def __init__(self, path: str | list[str] = "/") -> None:
        super().__init__(path=path, favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = _escape(str(openapi_schema.get("info", {}).get("title", "API")))
        vendor = f"{STATIC_PATH}/vendor/swagger-ui"
        return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{vendor}/swagger-ui.css">
<script src="{vendor}/swagger-ui-bundle.js" defer></script>
<script src="{STATIC_PATH}/docs/swagger.js" defer></script>
</head>
<body>
<main id="swagger-ui" data-spec-url="{self.get_openapi_json_route(request)}"></main>
</body>
</html>
""".encode()


__all__ = [
    "CONTENT_SECURITY_POLICY",
    "OfflineSwaggerPlugin",
    "pages_router",
    "pick_language",
    "security_headers",
]
