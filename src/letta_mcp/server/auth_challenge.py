"""Saying why a bearer token was refused, in the 401 the SDK sends.

The SDK's verifier interface can only accept or refuse a token, so its 401 always reads
``error_description="Authentication required"``, even for a token that was sent but is expired or
malformed. The verifier notes its reason with `note_rejection` (a context variable: verification
runs in the request's own task), and `ExplainRejection`, the outermost middleware, puts that
reason into the ``WWW-Authenticate`` challenge and the JSON body (RFC 6750 ``error_description``).
A reason names what was wrong with the token (a claim's type, "Signature has expired"), never its
contents, and it goes only to the client that presented the token.
"""

from __future__ import annotations

import json
import re
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_reason: ContextVar[str | None] = ContextVar("letta_mcp_token_rejection", default=None)
_DESCRIPTION = re.compile(rb'error_description="[^"]*"')
_UNSAFE = re.compile(r'[^\x20-\x7e]|["\\]')  # header quoted-string: printable ASCII, no quote or backslash


def note_rejection(reason: str) -> None:
    """Record why the current request's token was refused (the verifier then returns None)."""
    _reason.set(_UNSAFE.sub("'", reason)[:200])


class ExplainRejection:
    """ASGI middleware: a 401 for a refused token carries the verifier's reason."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reset = _reason.set(None)
        start: Message | None = None
        replaced = False

        async def explain(message: Message) -> None:
            nonlocal start, replaced
            reason = _reason.get()
            if message["type"] == "http.response.start" and message["status"] == 401 and reason:
                start = message  # held until its body, whose length changes
            elif start is not None and message["type"] == "http.response.body" and reason:
                body = json.dumps({"error": "invalid_token", "error_description": reason}).encode()
                headers = [
                    (name, _explained(value, reason) if name.lower() == b"www-authenticate" else value)
                    for name, value in start.get("headers", [])
                    if name.lower() != b"content-length"
                ]
                await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                start, replaced = None, True
            elif not (replaced and message["type"] == "http.response.body"):  # the rest of the old body goes
                await send(message)

        try:
            await self.app(scope, receive, explain)
        finally:
            _reason.reset(reset)


def _explained(challenge: bytes, reason: str) -> bytes:
    return _DESCRIPTION.sub(f'error_description="{reason}"'.encode(), challenge)
