"""Fixtures for tests/tasks: the real server subprocesses of tests/http (see http_harness)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "http"))  # the shared server harness

from http_harness import auth_server, model, tokens

__all__ = ["auth_server", "model", "tokens"]
