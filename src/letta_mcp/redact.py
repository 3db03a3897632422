"""Secrets out of URLs before they are shown: in error messages, logs and printed settings.

An endpoint URL may carry credentials, in its userinfo (``http://user:pass@host/v1``) or in a
query parameter (``?api_key=…``, ``?sig=…``). Model errors reach every principal that talks to an
agent, and logs and ``letta-mcp config`` output get pasted into bug reports, so a URL is always
shown through `redact_url` (or free text through `redact_text`): the userinfo becomes ``***``, as
does the value of every query parameter whose name looks secret. Host, port and path stay, since
they are what a person needs to find a misconfigured endpoint.

`RedactingFilter` applies `redact_text` to every log record a handler emits, tracebacks included,
so a library that logs a URL (or an exception quoting one) cannot leak it either.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
# Query parameter names that carry secrets in practice: api_key, key, token, access_token, sig,
# signature, password, secret, X-Amz-Credential, auth, code, session…
_SECRET_PARAM = re.compile(r"key|token|secret|sig|pass|pwd|auth|credential|session|code", re.IGNORECASE)
# A URL in free text: a scheme, then everything up to whitespace or a quote/bracket that ends it.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>`]+")


def redact_url(url: str) -> str:
    """``url`` with its userinfo and secret query values replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" in the host: nothing can be trusted to be safe
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    query = "&".join(_redact_param(p) for p in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_param(param: str) -> str:
    name, sep, value = param.partition("=")
    return f"{name}={MASK}" if sep and value and _SECRET_PARAM.search(name) else param


def redact_text(text: str) -> str:
    """``text`` with every URL in it passed through `redact_url`."""
    return _URL.sub(lambda m: redact_url(m.group(0)), text) if "://" in text else text


class RedactingFilter(logging.Filter):
    """A handler filter that redacts URLs in each record's message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit: the handler reports that itself
            return True
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Formatted here so the handler's formatter reuses this text rather than the raw one.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def redact_logs() -> None:
    """Install `RedactingFilter` on every handler of the root logger (call after configuring logging)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
