"""Importing the heavy packages in the background once the server is up, so that a person's first
call is as fast as the rest.

The model client and the archival index are imported lazily, on first use, so that start-up (the
client's first ``tools/list``) stays fast. Left at that, the first ``send_message`` of a process
paid the ``openai`` import (~0.2 s) and the first archival call the ``lancedb`` one (~0.7 s; see
benchmarks/first_call.py). A daemon thread imports them meanwhile: a request that needs a module
being imported waits for that import (Python's import lock), never for more, and a failed import
here only leaves the request path to import it, and report the error, as before.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)

# What the request path imports lazily: llm/client.py and llm/openai.py (the model client),
# store/lance.py (the archival index).
HEAVY_MODULES = ("openai", "openai.types.chat", "pyarrow", "lancedb", "lancedb.index", "lancedb.query")


def warm(modules: Sequence[str] = HEAVY_MODULES) -> list[str]:
    """Import ``modules``; returns those that failed (logged, never raised)."""
    started = time.perf_counter()
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # an optional or broken package: its first use will say what is wrong
            log.debug("warm-up could not import %s: %s", name, e)
            failed.append(name)
    log.debug("warm-up imported %d module(s) in %.2f s", len(modules) - len(failed), time.perf_counter() - started)
    return failed


def start(modules: Sequence[str] = HEAVY_MODULES) -> threading.Thread:
    """Warm up in a daemon thread (it never holds up the exit)."""
    thread = threading.Thread(target=warm, args=(modules,), name="letta-mcp-warm-up", daemon=True)
    thread.start()
    return thread
