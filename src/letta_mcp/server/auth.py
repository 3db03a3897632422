"""Authentication for the HTTP transports: bearer tokens and JWTs, each naming a principal.

- **Static tokens**: the config holds only SHA-256 digests of tokens (``auth.tokens``, digest →
  principal), so a leaked config file does not leak credentials. `hash_token` (and the
  ``letta-mcp hash-token`` command) computes the digest.
- **JWTs** (optional): signed by the key in ``auth.jwt_key_file``, with the configured issuer and
  audience. The principal is ``jwt:<iss>:<subject>``, the subject being the
  ``auth.jwt_principal_claim`` claim (``sub`` by default), unless ``auth.jwt_subject_map`` maps
  that name onto another owner (e.g. the name agents were created under before a migration).

Principal names live in one namespace per source, so no credential can pose as another's owner: a
static token names its principal exactly as configured (never ``local``, never ``jwt:…``, which
the settings refuse), a JWT's name always carries its issuer, and ``local`` belongs to the person
at the machine alone. Admins are listed by these full names.

A token that fails any check (signature, issuer, audience, expiry, or a claim of the wrong shape)
is simply not accepted: the SDK answers 401 ``invalid_token``, the reason is logged here and,
through `auth_challenge`, told to the client in the challenge.

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

from letta_mcp.config import JWT_PREFIX, AuthSettings
from letta_mcp.server.auth_challenge import note_rejection
from letta_mcp.service import LOCAL, Principal

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
        note_rejection("The token is not a configured token" + (" nor a JWT" if self._jwt_key else ""))
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
            principal = self._jwt_principal(claims)
            scopes = _scopes(claims)
            expires_at = int(claims["exp"])
        except (jwt.PyJWTError, ValueError) as e:  # ValueError: _ClaimError, a claim of the wrong shape
            log.info("rejected a JWT: %s", e)
            note_rejection(f"The JWT was rejected: {e}")
            return None
        return AccessToken(
            token=digest,
            client_id=principal,
            subject=principal,
            scopes=scopes,
            expires_at=expires_at,
            claims={k: v for k, v in claims.items() if k in ("iss", "aud", "sub", "azp", "client_id")},
        )

    def _jwt_principal(self, claims: dict[str, Any]) -> str:
        """``jwt:<iss>:<subject>``, or what ``auth.jwt_subject_map`` maps that name to."""
        claim = self._settings.jwt_principal_claim
        subject = claims.get(claim)
        if not isinstance(subject, str) or not subject.strip():
            raise _ClaimError(f"the {claim!r} claim must be a non-empty string, got {_shape(subject)}")
        issuer = claims.get("iss", "")
        if not isinstance(issuer, str):
            raise _ClaimError(f"the 'iss' claim must be a string, got {_shape(issuer)}")
        name = jwt_principal_name(issuer, subject)
        return self._settings.jwt_subject_map.get(name, name)


class _ClaimError(ValueError):
    """A signed, unexpired JWT whose claims have the wrong shape."""


def jwt_principal_name(issuer: str, subject: str) -> str:
    """The principal a JWT from ``issuer`` about ``subject`` acts as (before ``auth.jwt_subject_map``)."""
    return f"{JWT_PREFIX}{issuer}:{subject}"


def _scopes(claims: dict[str, Any]) -> list[str]:
    """The ``scope`` (space-separated text) or ``scp`` (text or a list of text) claim."""
    for claim in ("scope", "scp"):
        value = claims.get(claim)
        if value is None:
            continue
        if isinstance(value, str):
            return value.split()
        if isinstance(value, list) and all(isinstance(x, str) for x in value):
            return list(value)
        raise _ClaimError(f"the {claim!r} claim must be a string or a list of strings, got {_shape(value)}")
    return []


def _shape(value: object) -> str:
    """A claim's type for the log, never its value (it may be long or sensitive)."""
    return "nothing" if value is None else type(value).__name__


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
