"""Who may call the inspector's API, checked on every request before any work.

The same rules as /mcp: the Host/Origin allow-list (against DNS rebinding), then, with auth
configured, a bearer token in the ``Authorization`` header naming a principal. The page keeps
the token in session storage and sends it as a header, never a cookie, so another site cannot
make a browser call the API with it (no CSRF); without auth every request is the local user,
which is why the server only listens on loopback then.
"""

from __future__ import annotations

from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from letta_mcp.config import Settings
from letta_mcp.server.auth import PrincipalTokenVerifier, principal_of
from letta_mcp.service import Principal

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Guard:
    def __init__(self, settings: Settings, security: TransportSecuritySettings) -> None:
        self._security = TransportSecurityMiddleware(security)
        self._verifier = PrincipalTokenVerifier(settings.auth) if settings.auth.configured else None
        self._admins = frozenset(settings.auth.admins)

    @property
    def auth(self) -> bool:
        return self._verifier is not None

    async def check_origin(self, request: Request) -> Response | None:
        """421/403 for a foreign Host or Origin; 400 for a write that is not JSON."""
        return await self._security.validate_request(request, is_post=request.method in UNSAFE_METHODS)

    async def principal(self, request: Request) -> Principal | Response:
        """The request's principal, or the 401 to answer."""
        if self._verifier is None:
            return principal_of(None, self._admins)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        access = await self._verifier.verify_token(token.strip()) if scheme.lower() == "bearer" else None
        if access is None:
            return JSONResponse(
                {"error": "Sign in: this server needs a bearer token (ask its operator for one)."},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="letta-mcp"'},
            )
        return principal_of(access, self._admins)
