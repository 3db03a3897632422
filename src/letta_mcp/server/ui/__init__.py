"""The web inspector: static pages (``static/``, vanilla JS, no build step, no CDN) and a JSON API.

`build_ui` returns an ASGI app to mount at ``/ui``: ``/ui/`` serves the page, ``/ui/api/...`` the
API (`api.Api`), ``/ui/api/events`` the live event stream (`events.EventHub`). Every response
carries a strict Content-Security-Policy (scripts and styles from this origin only, no inline
code), so even a rendering bug could not run an agent's memory as script; the page itself only
ever writes data with ``textContent``.
"""

from __future__ import annotations

from pathlib import Path

from mcp.server.transport_security import RequestBodyLimitMiddleware, TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from letta_mcp.config import Settings
from letta_mcp.server.ui.api import Api
from letta_mcp.server.ui.events import EventHub
from letta_mcp.server.ui.guard import Guard
from letta_mcp.service import AgentService

STATIC_DIR = Path(__file__).parent / "static"
UI_PATH = "/ui"

_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        b"base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class _SecurityHeaders:
    """Adds `_HEADERS` to every response (pure ASGI, so event streams are not buffered)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


def build_ui(service: AgentService, settings: Settings, security: TransportSecuritySettings) -> Starlette:
    """The inspector app for ``service``, guarded like /mcp (``security``: its Host/Origin allow-list)."""
    api = Api(service, Guard(settings, security), EventHub.for_service(service))
    return Starlette(
        routes=[*api.routes(), Mount("/", app=StaticFiles(directory=STATIC_DIR, html=True))],
        middleware=[
            Middleware(_SecurityHeaders),
            Middleware(RequestBodyLimitMiddleware, max_body_size=settings.http.max_request_body_bytes),
        ],
    )
