"""The tool surface a client's model sees: clean descriptions, a listing that fits a token budget,
operator-chosen tool groups, and extreme values refused with a clear line instead of a crash."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_helpers import err, ok, snapshot

from letta_mcp.config import TOOL_GROUPS, load_settings
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.server import create_server
from letta_mcp.server.app import TOOL_MODULES
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio

# What the client's model pays for in every conversation: each tool's name, description and input
# schema (compact JSON), at ~4 characters per token. Issue 15: at most 4,000 tokens with every tool.
TOKEN_BUDGET = 4_000
CHARS_PER_TOKEN = 4


def listing_chars(tools: list[Any]) -> int:
    return sum(
        len(t.name)
        + len(t.description or "")
        + len(json.dumps(t.input_schema, separators=(",", ":"), ensure_ascii=False))
        for t in tools
    )


async def test_descriptions_are_clean_paragraphs(client: Client) -> None:
    with anyio.fail_after(10):
        tools = (await client.list_tools()).tools
    for tool in tools:
        text = tool.description or ""
        assert text == text.strip(), tool.name
        # No source indentation and no line breaks inside a paragraph: clients wrap text themselves.
        assert all("\n" not in paragraph for paragraph in text.split("\n\n")), (tool.name, text)
        assert "  " not in text, (tool.name, text)


async def test_listing_fits_the_token_budget(client: Client) -> None:
    with anyio.fail_after(10):
        tools = (await client.list_tools()).tools
    assert {t.name for t in tools} >= {"create_agent", "send_message", "archival_search", "get_context"}
    assert listing_chars(tools) / CHARS_PER_TOKEN <= TOKEN_BUDGET
    for tool in tools:
        schema = json.dumps(tool.input_schema)
        # Pydantic's per-field titles and the null branch of optional arguments carry nothing.
        assert '"title"' not in schema.replace('"title": {', ""), tool.name
        assert '{"type": "null"}' not in schema, tool.name


async def test_optional_arguments_still_accept_an_explicit_null(client: Client) -> None:
    """The listing leaves out ``null``, but a client that sends it is not refused."""
    with anyio.fail_after(10):
        listed = ok(await client.call_tool("list_agents", {"name": None, "tags": None}))
    assert listed["agents"] == []


def test_every_tool_group_has_its_modules() -> None:
    assert set(TOOL_MODULES) == set(TOOL_GROUPS)


@pytest.fixture
async def agents_only(tmp_path: Path) -> AsyncIterator[AgentService]:
    settings = load_settings(environ={"LETTA_MCP_DATA_DIR": str(tmp_path / "data"), "LETTA_MCP_TOOL_GROUPS": "agents"})
    service = await AgentService.open(settings, providers={"openai": ScriptedProvider()})
    try:
        yield service
    finally:
        await service.close()


async def test_a_disabled_group_hides_its_tools_but_not_its_resources(
    client: Client, agents_only: AgentService
) -> None:
    with anyio.fail_after(10):
        everything = {t.name for t in (await client.list_tools()).tools}
        async with Client(create_server(agents_only)) as narrow:
            names = {t.name for t in (await narrow.list_tools()).tools}
            hidden = err(await narrow.call_tool("get_context", {"agent_id": "agent-x"}))
            templates = [t.uri_template for t in (await narrow.list_resource_templates()).resource_templates]
    assert names == {
        "create_agent",
        "list_agents",
        "get_agent",
        "update_agent",
        "delete_agent",
        "send_message",
        "list_messages",
        "search_messages",
    }
    assert {"get_context", "archival_search", "get_run", "update_block"} <= everything - names
    assert "Unknown tool: get_context" in hidden
    assert "letta://agents/{agent_id}/context" in templates


# --- extreme values (issue 9 point 7): a clear line, no traceback, nothing written ----------------


def forged_cursor(created_at: str, rowid: Any) -> str:
    raw = json.dumps([created_at, rowid]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


EXTREME_CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "list_agents",
        {"offset": 2**63},
        "list_agents: 'offset' must be an integer between 0 and 1000000000000, got 9223372036854775808",
    ),
    (
        "list_messages",
        {"agent_id": "AGENT", "before": 2**64},
        "list_messages: 'before' must be an integer between 0 and 1000000000000, got 18446744073709551616",
    ),
    (
        "list_messages",
        {"agent_id": "AGENT", "after": 2**63},
        "list_messages: 'after' must be an integer between -1 and 1000000000000, got 9223372036854775808",
    ),
    (
        "search_messages",
        {"agent_id": "AGENT", "start_date": "0001-01-01T00:00:00+05:00"},
        "search_messages: 'start_date' must be a date between 1900-01-01 and 2199-12-31, "
        "got '0001-01-01T00:00:00+05:00'",
    ),
    (
        "search_messages",
        {"agent_id": "AGENT", "end_date": "9999-12-31T23:59:59-05:00"},
        "search_messages: 'end_date' must be a date between 1900-01-01 and 2199-12-31, got '9999-12-31T23:59:59-05:00'",
    ),
    (
        "archival_search",
        {"agent_id": "AGENT", "query": "x", "end_date": "9999-12-31T23:59:59-05:00"},
        "archival_search: 'end_date' must be a date between 1900-01-01 and 2199-12-31, got '9999-12-31T23:59:59-05:00'",
    ),
    (
        "archival_list",
        {"agent_id": "AGENT", "start_date": "0001-01-01"},
        "archival_list: 'start_date' must be a date between 1900-01-01 and 2199-12-31, got '0001-01-01'",
    ),
]


async def test_extreme_integers_and_dates_are_refused_in_one_line(
    client: Client, service: AgentService, caplog: pytest.LogCaptureFixture
) -> None:
    with anyio.fail_after(20):
        agent_id = ok(await client.call_tool("create_agent", {"name": "extremes"}))["id"]
        before = await snapshot(service)
        texts = []
        with caplog.at_level(logging.INFO):
            for tool, args, _ in EXTREME_CASES:
                arguments = {k: agent_id if v == "AGENT" else v for k, v in args.items()}
                texts.append(err(await client.call_tool(tool, arguments)))
    assert texts == [expected for _, _, expected in EXTREME_CASES]
    assert [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
    assert await snapshot(service) == before


@pytest.mark.parametrize("rowid", [2**63, 2**64, -1, True, 1.5, "1"])
async def test_forged_archival_cursors_are_refused(
    client: Client, caplog: pytest.LogCaptureFixture, rowid: Any
) -> None:
    cursor = forged_cursor("2024-05-01T00:00:00.000000+00:00", rowid)
    with anyio.fail_after(20):
        agent_id = ok(await client.call_tool("create_agent", {"name": "cursors"}))["id"]
        with caplog.at_level(logging.INFO):
            text = err(await client.call_tool("archival_list", {"agent_id": agent_id, "cursor": cursor}))
    assert text == (
        f"Error executing tool archival_list: Invalid cursor {cursor!r}: "
        "pass next_cursor from the previous page unchanged."
    )
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


async def test_dates_with_any_time_zone_inside_the_range_work(client: Client) -> None:
    with anyio.fail_after(20):
        agent_id = ok(await client.call_tool("create_agent", {"name": "zones"}))["id"]
        for start, end in [
            ("1900-01-01T00:00:00+14:00", "2199-12-31T23:59:59-12:00"),
            ("1900-01-01", "2199-12-31"),
        ]:
            ok(await client.call_tool("search_messages", {"agent_id": agent_id, "start_date": start, "end_date": end}))
            ok(await client.call_tool("archival_list", {"agent_id": agent_id, "start_date": start, "end_date": end}))


async def test_a_cap_left_out_of_the_listing_is_still_named_when_hit(client: Client) -> None:
    with anyio.fail_after(10):
        listed = {t.name: t.input_schema for t in (await client.list_tools()).tools}
        text = err(
            await client.call_tool("update_block", {"agent_id": "a", "label": "human", "description": "x" * 10_001})
        )
    assert "maxLength" not in listed["update_block"]["properties"]["description"]
    assert text == "update_block: 'description' must be a text of at most 10000 characters, got '" + "x" * 58 + "…"
