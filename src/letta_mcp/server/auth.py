"""Authentication for the HTTP transports: bearer tokens and JWTs, each naming a principal.

- **Static tokens**: the config holds only SHA-256 digests of tokens (``auth.tokens``, digest →
  principal), so a leaked config file does not leak credentials. `hash_token` (and the
  ``letta-mcp hash-token`` command) computes the digest.
- **JWTs** (optional): signed by the key in ``auth.jwt_key_file``, with the configured issuer and
  audience; the principal is the ``auth.jwt_principal_claim`` claim (``sub`` by default).

Both plug into the SDK as one `TokenVerifier`; the SDK's bearer middleware answers 401 for a
missing or rejected token. The principal then travels in the SDK's `get_access_token()` and
`principal_of` turns it into the service's `Principal`. stdio never sees any of this: it is the
local user, `LOCAL`.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings as SdkAuthSettings
from pydantic import AnyHttpUrl

from letta_mcp.config import AuthSettings
from letta_mcp.service.access import LOCAL, Principal

log = logging.getLogger(__name__)


def hash_token(token: str) -> str:
    """The digest stored in ``auth.tokens`` for ``token`` (SHA-256, lowercase hex)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class PrincipalTokenVerifier(TokenVerifier):
    """Accepts a configured static token or a valid JWT; the `AccessToken` names the principal.

    The returned token carries the digest, never the secret itself, so nothing downstream
    (logs, request state) can leak it.
    """

    def __init__(self, settings: AuthSettings) -> None:
        self._tokens = dict(settings.tokens)
        self._settings = settings
        self._jwt_key: str | None = None
        if settings.jwt_key_file is not None:
            self._jwt_key = _read_key(settings.jwt_key_file)

    async def verify_token(self, token: str) -> AccessToken | None:
        digest = hash_token(token)
        principal = self._tokens.get(digest)
        if principal is not None:
            return AccessToken(token=digest, client_id=principal, subject=principal, scopes=[])
        if self._jwt_key is not None and token.count(".") == 2:
            return self._verify_jwt(token, digest)
        return None

    def _verify_jwt(self, token: str, digest: str) -> AccessToken | None:
        import jwt  # only with JWTs configured: keeps start-up cheap (pyjwt loads cryptography)

        s = self._settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._jwt_key,
                algorithms=s.jwt_algorithms,
                issuer=s.jwt_issuer,
                audience=s.jwt_audience,
                options={"require": ["exp"], "verify_aud": s.jwt_audience is not None},
            )
        except jwt.PyJWTError as e:
            log.info("rejected a JWT: %s", e)
            return None
        principal = claims.get(s.jwt_principal_claim)
        if not isinstance(principal, str) or not principal:
            log.info("rejected a JWT without a %r claim", s.jwt_principal_claim)
            return None
        scope = claims.get("scope") or claims.get("scp") or []
        scopes = scope.split() if isinstance(scope, str) else [str(x) for x in scope]
        return AccessToken(
            token=digest,
            client_id=principal,
            subject=principal,
            scopes=scopes,
            expires_at=int(claims["exp"]),
            claims={k: v for k, v in claims.items() if k in ("iss", "aud", "sub", "azp", "client_id")},
        )


def _read_key(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"auth.jwt_key_file {path} cannot be read: {e}") from e


def sdk_auth(settings: AuthSettings, *, fallback_url: str) -> tuple[TokenVerifier, SdkAuthSettings] | None:
    """The SDK's verifier and auth settings for ``settings``, or None when auth is not configured.

    The protected-resource metadata (RFC 9728) is only published when there is an issuer to point
    OAuth clients at and the operator told us our public URL; static tokens need neither.
    """
    if not settings.configured:
        return None
    publish = settings.jwt_issuer is not None and settings.resource_url is not None
    sdk = SdkAuthSettings(
        issuer_url=AnyHttpUrl(settings.jwt_issuer if publish and settings.jwt_issuer else fallback_url),
        resource_server_url=AnyHttpUrl(settings.resource_url) if publish and settings.resource_url else None,
        # The verifier checks the JWT audience itself (auth.jwt_audience).
        validate_token_resource=False if publish else None,
    )
    return PrincipalTokenVerifier(settings), sdk


def principal_of(token: AccessToken | None, admins: list[str] | frozenset[str]) -> Principal:
    """The principal a request runs as: the token's, or the local user when there is no auth."""
    if token is None:
        return LOCAL
    name = token.subject or token.client_id
    return Principal(name, full_access=name in admins)
