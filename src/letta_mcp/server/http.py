"""The HTTP transports: one Starlette app, one `AgentService`, every client.

    /mcp        Streamable HTTP, both protocol eras the SDK serves (2026-07-28 and 2025-11-25)
    /sse        legacy HTTP+SSE (clients POST to /messages/?session_id=…)
    /ui         the web inspector (`letta_mcp.server.ui`; setting http.ui), same auth and Host/Origin checks
    /healthz    whether the dependencies answer: {"status": "ok", "version": …, "checks": {"database":
                true, "index": true}}; 503 with "error" when one does not
    /readyz     whether to send this process work: {"status": "ok", …, "checks": {"serving": true,
                "accepting": true}}; 503 until the service is open and from the moment shutdown begins
                Probes need no token and no Host check (they address pods by IP) and reveal nothing else.

Both MCP endpoints come from the same `MCPServer`, so they share tools, auth and the one service
the process opened at start-up (never inside an MCP lifespan: SSE runs the lifespan once per
connection). Mounted apps' lifespans never run, so this app's lifespan starts the Streamable HTTP
session manager itself.

Replicas: 2026-07-28 clients keep no session, so any replica sharing the database answers any of
their requests; ``http.stateless`` does the same for handshake-era clients (the SDK's stateless
mode: a fresh transport per request, no Mcp-Session-Id), and ``http.request_state_key`` lets every
replica open the state a client sends back on a multi-round-trip retry. Legacy SSE keeps its
session in the process that opened the stream: it needs sticky routing.

Security, in the order a request meets it: the SDK's bearer middleware (401 without a valid token
when auth is configured), the principal's session and SSE-stream limits (429, `http_limits`),
then each transport's Host/Origin allow-list (421/403, against DNS
rebinding) and body-size limit (413). The allow-list is always explicit here: the SDK would turn
the Host check off for a non-loopback bind. Binding a non-loopback address without auth is refused
(`check_bind`) unless the operator opts out with ``--insecure``.

Imported only for HTTP transports, so stdio start-up never loads uvicorn.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import uvicorn
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import BaseRoute, Mount, Route

from letta_mcp import __version__
from letta_mcp.config import HttpSettings, Settings
from letta_mcp.server.app import create_server
from letta_mcp.server.auth_challenge import ExplainRejection
from letta_mcp.server.http_limits import ConnectionLimits
from letta_mcp.server.ui import UI_PATH, build_ui
from letta_mcp.service import AgentService

log = logging.getLogger(__name__)

MCP_PATH = "/mcp"
SSE_PATH = "/sse"
SSE_MESSAGE_PATH = "/messages/"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class BindRefusedError(Exception):
    """The HTTP settings are unsafe to start with; the message says what to change."""


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def check_bind(settings: Settings) -> None:
    """Refuse a non-loopback address without auth (unless ``http.insecure``)."""
    http = settings.http
    if is_loopback(http.host) or settings.auth.configured or http.insecure:
        return
    raise BindRefusedError(
        f"refusing to listen on {http.host} without authentication: anyone who can reach this address "
        "could read and drive every agent. Configure auth.tokens (hash a token with `letta-mcp hash-token`) "
        "or auth.jwt_key_file, or pass --insecure if a proxy in front of letta-mcp authenticates clients."
    )


def transport_security(http: HttpSettings) -> TransportSecuritySettings:
    """The Host/Origin allow-list: loopback names, the bound address itself, and the configured extras."""
    names = list(LOOPBACK_NAMES)
    if not (is_loopback(http.host) or _is_wildcard(http.host)):
        names.append(f"[{http.host}]" if ":" in http.host else http.host)
    hosts = [*names, *(f"{n}:*" for n in names), *http.allowed_hosts]
    origins = [*(f"{scheme}://{n}{port}" for n in names for scheme in ("http", "https") for port in ("", ":*"))]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(dict.fromkeys(hosts)),
        allowed_origins=list(dict.fromkeys([*origins, *http.allowed_origins])),
    )


def build_app(service: AgentService, settings: Settings) -> Starlette:
    """The ASGI app serving ``service`` over Streamable HTTP, SSE and /healthz."""
    http = settings.http
    base_url = f"http://{http.host}:{http.port}"
    mcp = create_server(
        service,
        auth=settings.auth if settings.auth.configured else None,
        base_url=base_url,
        stateless=http.stateless,
        request_state_key=http.request_state_key,
    )
    security = transport_security(http)
    streamable = mcp.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=http.stateless,
        transport_security=security,
        host=http.host,
        max_request_body_size=http.max_request_body_bytes,
        session_idle_timeout=http.session_idle_timeout_s,
    )
    sse = mcp.sse_app(
        sse_path=SSE_PATH,
        message_path=SSE_MESSAGE_PATH,
        transport_security=security,
        host=http.host,
        max_request_body_size=http.max_request_body_bytes,
    )

    async def healthz(request: Request) -> JSONResponse:
        return probe_response(await service.check_health())

    async def readyz(request: Request) -> JSONResponse:
        return probe_response({"serving": service.serving, "accepting": not request.app.state.draining()})

    # Both SDK apps carry the same auth middleware and (with JWT metadata) the same well-known
    # route; their MCP routes are disjoint, so they merge into one route table.
    routes: list[BaseRoute] = [Route(HEALTH_PATH, healthz, methods=["GET"]), Route(READY_PATH, readyz, methods=["GET"])]
    seen: set[str] = set()
    for route in [*streamable.routes, *sse.routes]:
        path = getattr(route, "path", None)
        if path not in seen:
            seen.add(path)
            routes.append(route)

    if http.ui:
        routes += inspector_routes(service, settings, security)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with mcp.session_manager.run():
            yield

    # Inside the auth middleware, so each request's principal is known when its limits are checked.
    limits = Middleware(
        ConnectionLimits,
        limits=settings.limits,
        auth=settings.auth.configured,
        sessions=mcp.session_manager,
        mcp_path=MCP_PATH,
        sse_path=SSE_PATH,
    )
    # Outermost, the reason a token was refused goes into the SDK's 401 (see auth_challenge).
    middleware = [Middleware(ExplainRejection), *streamable.user_middleware, limits]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.draining = lambda: False  # `serve_http` points it at its server's shutdown flag
    return app


def probe_response(checks: dict[str, bool]) -> JSONResponse:
    """A probe's answer: 200 when every check passed, 503 otherwise."""
    ok = all(checks.values())
    body = {"status": "ok" if ok else "error", "version": __version__, "checks": checks}
    return JSONResponse(body, status_code=200 if ok else 503)


def inspector_routes(service: AgentService, settings: Settings, security: TransportSecuritySettings) -> list[BaseRoute]:
    """The web inspector at /ui (the bare path redirects to the page)."""
    page = f"{UI_PATH}/"
    return [
        Route(UI_PATH, lambda request: RedirectResponse(page), methods=["GET"]),
        Mount(UI_PATH, app=build_ui(service, settings, security)),
    ]


def build_inspector_app(service: AgentService, settings: Settings) -> Starlette:
    """Only the inspector (`letta-mcp ui`), with the same Host/Origin and token checks as `build_app`."""
    root = Route("/", lambda request: RedirectResponse(f"{UI_PATH}/"), methods=["GET"])
    return Starlette(routes=[root, *inspector_routes(service, settings, transport_security(settings.http))])


def bind(http: HttpSettings) -> socket.socket:
    """A listening socket for ``http.host``/``http.port`` (port 0 picks a free one)."""
    family, _, _, _, address = socket.getaddrinfo(
        http.host.strip("[]"), http.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    # create_server sets SO_REUSEADDR only where it cannot let a second server take the port
    # (POSIX, not Windows).
    sock = socket.create_server(address, family=family, backlog=2048)
    # Accepted connections inherit TCP_NODELAY. asyncio sets it itself only on sockets created
    # with proto IPPROTO_TCP, which create_server's are not; without it every response that
    # goes out in several writes (a streamed MCP answer) waits ~40 ms for the client's delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


async def serve_http(
    service: AgentService,
    settings: Settings,
    *,
    sock: socket.socket | None = None,
    stop: anyio.Event | None = None,
    app: Starlette | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM or ``stop`` is set, then shut down gracefully (open streams get
    a few seconds). ``sock`` defaults to a new one from `bind`; ``app`` to `build_app`'s."""
    check_bind(settings)
    http = settings.http
    if _is_wildcard(http.host) and not http.allowed_hosts:
        log.warning(
            "listening on %s with no http.allowed_hosts: only loopback Host headers are accepted, so clients "
            "using this machine's name or address get 421; list those names in http.allowed_hosts",
            http.host,
        )
    sock = sock or bind(http)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    if app is not None:
        log.info(
            "letta-mcp %s serving the inspector for %s on http://%s:%d%s/",
            __version__,
            settings.data_dir,
            shown,
            port,
            UI_PATH,
        )
    else:
        app = build_app(service, settings)
        log.info(
            "letta-mcp %s serving %s on http://%s:%d (Streamable HTTP at %s, SSE at %s, health at %s, auth %s)",
            __version__,
            settings.data_dir,
            shown,
            port,
            MCP_PATH,
            SSE_PATH,
            HEALTH_PATH,
            "on" if settings.auth.configured else "off",
        )
    config = uvicorn.Config(
        app,
        log_config=None,  # our logging: stderr, our format
        access_log=settings.log_level == "DEBUG",
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    # /readyz turns 503 as soon as shutdown begins, so a load balancer stops sending new requests
    # while the ones in flight finish.
    app.state.draining = lambda: server.should_exit

    async def stop_when_asked(event: anyio.Event) -> None:
        await event.wait()
        server.should_exit = True

    with sock:
        async with anyio.create_task_group() as tasks:
            if stop is not None:
                tasks.start_soon(stop_when_asked, stop)
            await server.serve(sockets=[sock])
            tasks.cancel_scope.cancel()
