"""Fixtures for tests/http: real server subprocesses (see http_harness)."""

from http_harness import auth_server, model, open_server, tokens

__all__ = ["auth_server", "model", "open_server", "tokens"]
