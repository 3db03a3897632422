"""Logging for the ``letta-mcp`` command: one stderr handler (stdout carries the stdio protocol).

Libraries' chatter is kept for ``DEBUG``: the HTTP client logs one INFO line per model call, and
asyncpg may log per connection. uvicorn logs its own life cycle under ``uvicorn.error``
(its name for "not access lines"), which reads as an error; those records are shown as ``uvicorn``.
"""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Loggers quieter than the chosen level: at DEBUG their INFO lines show, their DEBUG lines never do.
_CHATTY = ("httpx", "httpx2", "httpcore", "httpcore2", "asyncpg")


class _RenameUvicornError(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.name = "uvicorn"
        return True


def configure(level: str) -> None:
    """Send every log record at ``level`` or above to stderr."""
    logging.basicConfig(level=level, stream=sys.stderr, format=FORMAT)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.INFO if level == "DEBUG" else logging.WARNING)
    uvicorn = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _RenameUvicornError) for f in uvicorn.filters):
        uvicorn.addFilter(_RenameUvicornError())
