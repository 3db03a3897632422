"""Heavy imports warm up in the background once a client has started, and can never break serving."""

from __future__ import annotations

from pathlib import Path

from letta_mcp.warmup import HEAVY_MODULES, warm
from terminal import call, handshake, spawn_server, stop_with_ctrl_c

WARMED = f"warm-up imported {len(HEAVY_MODULES)} module(s)"


def test_warm_reports_failures_instead_of_raising() -> None:
    assert warm(("json", "letta_mcp_no_such_module")) == ["letta_mcp_no_such_module"]


def test_stdio_server_warms_up_after_the_clients_tool_listing(tmp_path: Path) -> None:
    child = spawn_server(tmp_path / "data", LETTA_MCP_LOG_LEVEL="DEBUG")
    try:
        handshake(child)
        call(child, 2, "tools/list", {})
        assert "warm-up" not in child.before  # nothing competed with the client's start-up
        child.expect_exact(WARMED)
        stop_with_ctrl_c(child)
    finally:
        child.close(force=True)


def test_a_package_that_fails_to_import_does_not_break_serving(tmp_path: Path) -> None:
    broken = tmp_path / "site"
    (broken / "lancedb").mkdir(parents=True)
    (broken / "lancedb" / "__init__.py").write_text('raise RuntimeError("broken on purpose")\n')
    child = spawn_server(tmp_path / "data", LETTA_MCP_LOG_LEVEL="DEBUG", PYTHONPATH=str(broken))
    try:
        handshake(child)
        call(child, 2, "tools/list", {})
        child.expect_exact("warm-up could not import lancedb: broken on purpose")
        child.expect_exact(f"warm-up imported {len(HEAVY_MODULES) - 3} module(s)")  # lancedb and its submodules
        created = call(child, 3, "tools/call", {"name": "create_agent", "arguments": {"name": "sam"}})
        listed = call(child, 4, "tools/call", {"name": "list_agents", "arguments": {}})
        assert [a["id"] for a in listed["structuredContent"]["agents"]] == [created["structuredContent"]["id"]]
        stop_with_ctrl_c(child)
    finally:
        child.close(force=True)
