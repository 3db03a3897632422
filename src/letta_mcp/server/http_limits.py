"""Per-principal caps on open HTTP connections: Streamable HTTP sessions and legacy SSE streams.

``[limits] sessions_per_principal`` and ``sse_streams_per_principal`` (overridable per principal)
keep one principal from holding the server's memory and tasks in idle sessions or streams. The
`ConnectionLimits` middleware sits inside the bearer-auth middleware, so the principal is known;
an unauthenticated request passes untouched to the endpoint, which answers 401. Without ``[auth]``
(loopback, one local user) nothing is counted: the caps protect principals from each other.

- A request that opens a session (a legacy-protocol POST /mcp without ``Mcp-Session-Id``) counts
  while it is answered, then by the session id it got until the client deletes the session or the
  SDK's session manager forgets it (idle timeout, crash): `_live_session_ids` asks the manager.
- A GET /sse counts while its stream is open.

Checking and counting happen with no ``await`` in between, so concurrent requests cannot both
take the last place. One over the limit gets HTTP 429 with a JSON-RPC error naming the limit and
the setting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from letta_mcp.config import LimitSettings
from letta_mcp.server.auth import principal_of

SESSION_HEADER = b"mcp-session-id"
VERSION_HEADER = b"mcp-protocol-version"
INVALID_REQUEST = -32600


class ConnectionLimits:
    """ASGI middleware enforcing the session and SSE-stream limits of each principal."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: LimitSettings,
        auth: bool,
        sessions: StreamableHTTPSessionManager,
        mcp_path: str,
        sse_path: str,
    ) -> None:
        self.app = app
        self._limits = limits
        self._auth = auth
        self._manager = sessions
        self._mcp_path = mcp_path
        self._sse_path = sse_path
        self._sessions: dict[str, str] = {}  # session id -> principal
        self._opening: Counter[str] = Counter()  # session-opening requests not answered yet
        self._streams: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = self._principal(scope) if scope["type"] == "http" else None
        if principal is None:
            await self.app(scope, receive, send)
            return
        path, method, headers = scope["path"], scope["method"], dict(scope["headers"])
        if path == self._mcp_path and method == "POST" and _opens_session(headers):
            await self._open_session(principal, scope, receive, send)
        elif path == self._mcp_path and method == "DELETE" and SESSION_HEADER in headers:
            await self._delete_session(headers[SESSION_HEADER].decode("latin-1"), scope, receive, send)
        elif path == self._sse_path and method == "GET":
            await self._stream(principal, scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _principal(self, scope: Scope) -> str | None:
        """The principal to count the request against; None when it is not counted: without auth
        (a loopback server of one local user, who may open as many sessions as its tools do) and
        when auth is on but the request carries no valid token (the endpoint answers 401)."""
        user = scope.get("user")
        if self._auth and isinstance(user, AuthenticatedUser):
            return principal_of(user.access_token, ()).name
        return None

    async def _open_session(self, principal: str, scope: Scope, receive: Receive, send: Send) -> None:
        live = _live_session_ids(self._manager)
        for gone in [sid for sid in self._sessions if sid not in live]:
            del self._sessions[gone]
        limit = self._limits.for_principal(principal).sessions_per_principal
        open_now = sum(1 for p in self._sessions.values() if p == principal) + self._opening[principal]
        if open_now >= limit:
            setting = self._limits.setting(principal, "sessions_per_principal")
            await _refuse(
                f"Too many open sessions for principal {principal!r}: {open_now} of {limit} (setting `{setting}`). "
                "Close one (DELETE /mcp with its Mcp-Session-Id header) or wait until an idle one expires "
                "(http.session_idle_timeout_s).",
                scope,
                receive,
                send,
            )
            return
        self._opening[principal] += 1
        answered = False

        async def record(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start" and not answered:
                answered = True
                _release(self._opening, principal)
                session_id = dict(message.get("headers", [])).get(SESSION_HEADER)
                if session_id and message["status"] < 400:
                    self._sessions[session_id.decode("latin-1")] = principal
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            if not answered:
                _release(self._opening, principal)

    async def _delete_session(self, session_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        async def forget(message: Message) -> None:
            # The session ends with this answer: its place is free before the client hears of it.
            if message["type"] == "http.response.start" and message["status"] < 300:
                self._sessions.pop(session_id, None)
            await send(message)

        await self.app(scope, receive, forget)

    async def _stream(self, principal: str, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self._limits.for_principal(principal).sse_streams_per_principal
        if self._streams[principal] >= limit:
            setting = self._limits.setting(principal, "sse_streams_per_principal")
            await _refuse(
                f"Too many open SSE streams for principal {principal!r}: {self._streams[principal]} of {limit} "
                f"(setting `{setting}`). Close one first.",
                scope,
                receive,
                send,
            )
            return
        self._streams[principal] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            _release(self._streams, principal)


def _release(counter: Counter[str], principal: str) -> None:
    """One place fewer; a principal with none left is forgotten (JWT subjects are unbounded)."""
    counter[principal] -= 1
    if counter[principal] <= 0:
        del counter[principal]


def _opens_session(headers: dict[bytes, bytes]) -> bool:
    """A POST without a session id in a protocol era that has sessions (the 2026 era has none)."""
    version = headers.get(VERSION_HEADER)
    return SESSION_HEADER not in headers and (
        version is None or version.decode("latin-1") in HANDSHAKE_PROTOCOL_VERSIONS
    )


def _live_session_ids(manager: StreamableHTTPSessionManager) -> Container[str]:
    """The ids of the sessions the SDK still serves.

    Private SDK state, read here only: the manager offers no public view of its open sessions, and
    it alone knows when one ends by idle timeout. tests/http/test_http_limits.py pins the attribute.
    """
    return manager._server_instances


async def _refuse(message: str, scope: Scope, receive: Receive, send: Send) -> None:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": INVALID_REQUEST, "message": message}}
    await JSONResponse(body, status_code=429)(scope, receive, send)
