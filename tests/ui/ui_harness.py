"""The inspector tests' harness: a real server with auth, a fake model and headless Chromium.

The server is a real ``letta-mcp serve --transport streamable-http`` subprocess (tests/http's
harness) with static tokens for alice and bob; its model is the real-HTTP `FakeOpenAI`. The
browser is Debian's ``chromium`` driven by Playwright (``executable_path``: Playwright never
downloads a browser). Without the browser the tests skip locally and fail in CI (``CI=true``).

Set ``UI_SCREENSHOTS=DIR`` to save screenshots of the main pages into DIR (docs/ keeps them).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "http"))  # the shared server harness

from http_harness import ServerProcess, start_server

from fake_openai import FakeOpenAI
from letta_mcp.server.auth import hash_token

CHROMIUM = os.environ.get("LETTA_MCP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
TIMEOUT_MS = 15_000


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must install it (apt-get install chromium; pip install -e '.[dev]')")
    pytest.skip(reason)


@dataclass(frozen=True)
class Inspector:
    """The running server, its tokens, and a small client of the inspector's JSON API."""

    server: ServerProcess
    model: FakeOpenAI
    alice: str
    bob: str

    @property
    def url(self) -> str:
        return f"{self.server.url}/ui/"

    def api(self, method: str, path: str, token: str, body: Any = None) -> httpx2.Response:
        return httpx2.request(
            method,
            f"{self.server.url}/ui/api{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"} if token else {},
            timeout=30,
        )


@pytest.fixture(scope="package")
def inspector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inspector]:
    alice, bob = secrets.token_hex(16), secrets.token_hex(16)
    config = f"""
[auth.tokens]
"{hash_token(alice)}" = "alice"
"{hash_token(bob)}" = "bob"
"""
    with FakeOpenAI() as model:
        server = start_server(tmp_path_factory.mktemp("ui") / "data", model.base_url, config=config)
        try:
            yield Inspector(server, model, alice, bob)
        finally:
            server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium for one module: Playwright's sync API holds an event loop on this thread
    while it runs, so it must be gone before async tests of other modules start."""
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed")
    expect.set_options(timeout=TIMEOUT_MS)  # the deadline of every wait; generous for a loaded CI machine
    if not Path(CHROMIUM).exists():
        _unavailable(f"Chromium is not installed at {CHROMIUM}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab (its own session storage); page errors fail the test."""
    context = browser.new_context(viewport={"width": 1360, "height": 860})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, errors


def screenshot(page: Any, name: str) -> None:
    """Save ``name``.png into $UI_SCREENSHOTS (when set)."""
    folder = os.environ.get("UI_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def sign_in(page: Any, inspector: Inspector, token: str) -> None:
    page.goto(inspector.url)
    page.get_by_label("Bearer token").fill(token)
    page.get_by_role("button", name="Sign in").click()
