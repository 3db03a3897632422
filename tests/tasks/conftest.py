"""Fixtures for tests/tasks: the real server subprocesses of tests/http (see http_harness)."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "http"))  # the shared server harness

from http_harness import ServerProcess, auth_server, model, start_server, tokens
from task_http import TASK_CONFIG

from fake_openai import FakeOpenAI

__all__ = ["auth_server", "model", "task_server", "tokens"]


@pytest.fixture(scope="module")
def task_server(tmp_path_factory: pytest.TempPathFactory, model: FakeOpenAI) -> Iterator[ServerProcess]:
    """A ``letta-mcp serve`` with a 0.2 s task threshold (`TASK_CONFIG`), shared by a module's tests."""
    server = start_server(tmp_path_factory.mktemp("tasks") / "data", model.base_url, config=TASK_CONFIG)
    yield server
    server.stop()
