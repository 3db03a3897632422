"""``letta-mcp export`` / ``letta-mcp import`` as real subprocesses, while a server runs on the same data dir."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
import pytest
from af_helpers import fixture
from mcp import Client, StdioServerParameters
from mcp_helpers import ok

pytestmark = pytest.mark.anyio

ENV = {k: v for k, v in os.environ.items() if not k.startswith(("LETTA_MCP_", "OPENAI_"))}
ENV |= {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}


async def _cli(*args: str) -> tuple[int, str, str]:
    done = await anyio.run_process([sys.executable, "-m", "letta_mcp", *args], env=ENV, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


async def test_export_and_import_while_a_server_runs(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "letta_mcp", "serve", "--data-dir", data, "--log-level", "WARNING"], env=ENV
    )
    with anyio.fail_after(120):
        async with Client(server) as client:
            created = ok(await client.call_tool("create_agent", {"name": "sam", "human": "Sarah, a sailor."}))
            agent_id = created["id"]
            out = tmp_path / "sam.af"

            code, _, stderr = await _cli("export", agent_id, "-o", str(out), "--data-dir", data)
            assert code == 0, stderr
            document = json.loads(await anyio.Path(out).read_text())
            assert document["agents"][0]["name"] == "sam"

            code, stdout, stderr = await _cli("import", str(out), "--name", "sam-copy", "--data-dir", data)
            assert code == 0, stderr
            copy_id = json.loads(stdout)["agent_id"]

            code, stdout, stderr = await _cli("import", str(fixture("customer_service.af")), "--data-dir", data)
            assert code == 0, stderr
            summary = json.loads(stdout)
            assert summary["agents"][0]["inactive_tools"]  # its custom tools, each with the reason

            memory = ok(await client.call_tool("get_memory", {"agent_id": copy_id}))
            listed = ok(await client.call_tool("list_agents", {}))
    assert "Sarah, a sailor." in json.dumps(memory)
    assert {"sam", "sam-copy", "customer_service"} <= {a["name"] for a in listed["agents"]}


async def test_import_of_a_bad_file_fails_cleanly(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    bad = tmp_path / "bad.af"
    await anyio.Path(bad).write_text('{"agents": [{"id": "agent-0", "block_ids": ["block-7"]}]}')
    with anyio.fail_after(60):
        code, stdout, stderr = await _cli("import", str(bad), "--data-dir", data)
        missing_code, _, missing_err = await _cli("import", str(tmp_path / "nope.af"), "--data-dir", data)
    assert code == 1 and stdout == ""
    assert "block 'block-7'" in stderr and "Traceback" not in stderr
    assert missing_code == 2 and "cannot read" in missing_err
