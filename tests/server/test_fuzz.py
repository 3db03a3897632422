"""Every tool, called in-process with arbitrary JSON for each argument (issue 9 point 9).

Whatever arrives, the server answers with one of our clear errors (a ToolError text or a
rejected-argument line) or a result, never an unhandled-exception error; it logs no traceback; and a
call it refuses leaves the database exactly as it was.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import numpy  # noqa: F401  (see below)
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult
from mcp_helpers import ok
from pydantic import TypeAdapter, ValidationError

from letta_mcp.config import Settings
from letta_mcp.llm.scripted import ScriptedProvider, reply
from letta_mcp.server import create_server
from letta_mcp.service import AgentService
from postgres import dump_schema

# numpy is imported above, before any server thread runs: the server's archival code imports it in
# a worker thread, and Hypothesis looks into sys.modules["numpy"] from this one, where a half-imported
# module fails with AttributeError.

# Ids of real objects, so that calls also get past "no such agent" into the deeper code; the tools
# that delete never get them, or the tools after them could only answer "no such agent".
REAL_IDS = {"agent_id": "AGENT", "run_id": "RUN", "block_id": "BLOCK", "passage_id": "PASSAGE"}
DESTRUCTIVE = {"delete_agent", "delete_block", "archival_delete"}

NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    '"a" OR NEAR(',
    "NEAR(a b, -1)",
    "*",
    "AND OR NOT",
    "'; DROP TABLE agents; --",
    "%_\\",
    "human",
    "persona",
    "desc",
    "user",
    "openai/gpt-4o-mini",
    "2024-05-01",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "2024-05-01T25:61:00Z",
    "\U0001f600" * 3,
    "é" * 70,
    "x" * 5000,
    "WyIyMDI0IiwgOTIyMzM3MjAzNjg1NDc3NTgwOF0",  # an archival cursor carrying 2**63
]
NASTY_NUMBERS = [0, -1, 1, 2**31, 2**53 + 1, 2**63, -(2**63) - 1, 2**64, 10**30, 0.5, -0.0, 1e308]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(NASTY_NUMBERS),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(NASTY_TEXT),
)
any_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)


def _turns_on(value: Any) -> bool:
    """Whether a bool argument would read ``value`` as true."""
    try:
        return TypeAdapter(bool).validate_python(value) is True
    except ValidationError:
        return False


# Background turns and sleep-time agents would keep writing after the call returns, so a later
# refused call could not be checked against a quiet database; they are tested elsewhere.
STAYS_IN_THE_CALL = {"background", "enable_sleeptime"}


DATES = [
    "2024-05-01",
    "2024-05-01T09:30:00Z",
    "2024-05-01T09:30:00+14:00",
    "0001-01-01",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31",
    "9999-12-31T23:59:59-05:00",
    "2024-13-01",
]


def plausible(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of the right shape, valid or just past the edges, so calls also reach the service."""
    if "anyOf" in schema:
        return st.one_of(*(plausible(branch) for branch in schema["anyOf"]))
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "integer":
        low, high = schema.get("minimum", -5), schema.get("maximum", 10**6)
        return st.integers(low, high) | st.sampled_from([low - 1, high + 1, *NASTY_NUMBERS])
    if kind == "boolean":
        return st.booleans()
    if kind == "string" and "format" in schema:
        return st.sampled_from(DATES)
    if kind == "string":
        return st.text(min_size=1, max_size=20) | st.sampled_from(NASTY_TEXT)
    if kind == "array":
        return st.lists(plausible(schema.get("items", {})), max_size=3)
    return any_json


@st.composite
def arguments(draw: st.DrawFn, schema: dict[str, Any]) -> dict[str, Any]:
    required = set(schema.get("required", ()))
    args: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        if not draw(st.booleans()) and (name not in required or draw(st.integers(0, 9)) == 0):
            continue  # left out (a required one only now and then)
        choices = [any_json, plausible(prop)]
        if name in REAL_IDS:
            choices.append(st.just(REAL_IDS[name]))
        value = draw(st.one_of(*choices))
        if name in STAYS_IN_THE_CALL and _turns_on(value):
            continue
        args[name] = value
    if draw(st.integers(0, 9)) == 0:
        args[draw(st.text(min_size=1, max_size=10))] = draw(any_json)  # an argument no tool has
    return args


@pytest.fixture
def scripted() -> ScriptedProvider:
    """Overrides conftest's: every turn gets a plain answer."""
    return ScriptedProvider(default=reply("Noted."))


# Turn-taking bookkeeping, not state: every live process rewrites its heartbeat row, and a call that
# waits for an agent's turn (to check its arguments against a stable agent) draws a ticket number.
VOLATILE = ('INSERT INTO "processes"', """INSERT INTO "sqlite_sequence" VALUES('lease_tickets',""")


def dump(settings: Settings) -> list[str]:
    """The committed database as SQL (as rows on PostgreSQL), less the turn-taking bookkeeping."""
    if settings.database_url:
        return dump_schema(settings.database_url, skip=("processes", "lease_tickets"))
    conn = sqlite3.connect(settings.data_dir / "letta.db")
    try:
        return [line for line in conn.iterdump() if not line.startswith(VOLATILE)]
    finally:
        conn.close()


@dataclass
class Surface:
    """A server on an event loop of its own, so that Hypothesis can drive it from a plain test."""

    portal: BlockingPortal
    service: AgentService
    client: Client
    tools: dict[str, dict[str, Any]]
    ids: dict[str, str]

    def call(self, name: str, args: dict[str, Any]) -> CallToolResult:
        return self.portal.call(_call, self.client, name, args)

    def settle(self) -> None:
        """Wait until stored passages are in the search index: indexing writes after the call returns."""
        if self.service.archival is not None:
            self.portal.call(self.service.archival.wait_indexed)


async def _call(client: Client, name: str, args: dict[str, Any]) -> CallToolResult:
    with anyio.fail_after(30):
        return await client.call_tool(name, args)


async def _objects(client: Client) -> dict[str, str]:
    """One object of each kind, for the calls that name a real one."""
    with anyio.fail_after(20):
        agent = ok(await client.call_tool("create_agent", {"name": "fuzz"}))["id"]
        run = ok(await client.call_tool("send_message", {"agent_id": agent, "message": "hello"}))["run_id"]
        block = ok(await client.call_tool("create_block", {"block": {"label": "notes", "value": "x"}}))["id"]
        passage = ok(await client.call_tool("archival_insert", {"agent_id": agent, "text": "a fact"}))
    return {"AGENT": agent, "RUN": run, "BLOCK": block, "PASSAGE": passage["passage_ids"][0]}


async def _tools(client: Client) -> dict[str, dict[str, Any]]:
    with anyio.fail_after(10):
        return {t.name: t.input_schema for t in (await client.list_tools()).tools}


@pytest.fixture
def surface(settings: Settings, scripted: ScriptedProvider) -> Iterator[Surface]:
    with start_blocking_portal("asyncio") as portal:
        service = portal.call(partial(AgentService.open, settings, providers={"openai": scripted}))
        try:
            with portal.wrap_async_context_manager(Client(create_server(service))) as client:
                yield Surface(portal, service, client, portal.call(_tools, client), portal.call(_objects, client))
        finally:
            portal.call(service.close)


EXAMPLES_PER_TOOL = 30


def test_any_arguments_get_a_clear_answer_and_a_refusal_writes_nothing(
    surface: Surface, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:

    def check(name: str, args: dict[str, Any]) -> None:
        if name not in DESTRUCTIVE:
            args = {k: surface.ids.get(v, v) if isinstance(v, str) else v for k, v in args.items()}
        caplog.clear()
        with caplog.at_level(logging.INFO):
            surface.settle()
            before = dump(settings)
            result = surface.call(name, args)
            after = dump(settings)
        text = result.content[0].text if result.is_error else ""
        # The SDK's answer to an exception we did not handle is the bare name: the caller learns nothing.
        assert text != f"Error executing tool {name}", args
        assert [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
        if result.is_error:
            assert text.startswith((f"{name}: ", f"Error executing tool {name}: ")), text
            assert sorted(set(before) ^ set(after)) == [], (name, args, text)

    # One run per tool, so that every tool gets its share of examples.
    for name, schema in sorted(surface.tools.items()):
        examples(name, schema, check)()


def examples(name: str, schema: dict[str, Any], check: Callable[[str, dict[str, Any]], None]) -> Callable[[], None]:
    @settings_(
        max_examples=EXAMPLES_PER_TOOL,
        deadline=None,
        database=None,
        derandomize=True,  # the same examples on every run: a failure here is a defect, never luck
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(args=arguments(schema))
    def run(args: dict[str, Any]) -> None:
        check(name, args)

    return run
