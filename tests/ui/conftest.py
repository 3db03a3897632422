"""Fixtures for tests/ui: a real server, a fake model and headless Chromium (see ui_harness)."""

from ui_harness import browser, inspector, page

__all__ = ["browser", "inspector", "page"]
