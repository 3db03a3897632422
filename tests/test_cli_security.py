"""The ``letta-mcp`` command as a real subprocess: URL credentials stay hidden, and stdio warns that
[auth] does not protect it.

The model endpoint is the scripted fake OpenAI server (real HTTP); the provider's base URL carries
a password in its userinfo, and the fake echoes a secret URL in its error, as real gateways do.
"""

from __future__ import annotations

import json
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from fake_openai import FakeOpenAI, error
from letta_mcp.server.auth import hash_token
from test_cli import clean_env, letta_mcp

PASSWORD = "pw-8c1e07"
QUERY_SECRET = "qs-5d2a91"


def secret_config(tmp_path: Path, base_url: str, extra: str = "") -> Path:
    host_part = base_url.removeprefix("http://")
    config = tmp_path / "letta.toml"
    config.write_text(
        f"""log_level = "DEBUG"
{extra}
[providers.openai]
base_url = "http://gateway-user:{PASSWORD}@{host_part}"
api_key = "test-key"
max_retries = 0

[providers.signed]
base_url = "https://llm.example.test/v1?api_key={QUERY_SECRET}&region=eu"
""",
        encoding="utf-8",
    )
    return config


def test_config_command_hides_credentials_in_urls(tmp_path: Path) -> None:
    config = secret_config(tmp_path, "http://127.0.0.1:9/v1")
    result = letta_mcp("config", "--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout and QUERY_SECRET not in result.stdout
    providers = json.loads(result.stdout)["providers"]
    assert providers["openai"]["base_url"] == "http://***@127.0.0.1:9/v1"
    assert providers["signed"]["base_url"] == "https://llm.example.test/v1?api_key=***&region=eu"


@pytest.mark.anyio
async def test_model_errors_and_logs_hide_credentials_in_the_base_url(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    echoed = f"{fake_openai.base_url.replace('http://', f'http://gateway-user:{PASSWORD}@')}?key={QUERY_SECRET}"
    fake_openai.script(error(400, {"error": {"message": f"upstream {echoed} refused the request"}}))
    config = secret_config(tmp_path, fake_openai.base_url)
    log_file = tmp_path / "stderr.log"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "letta_mcp", "serve", "--config", str(config), "--data-dir", str(tmp_path / "data")],
        env=clean_env(),
    )
    with anyio.fail_after(120), log_file.open("w", encoding="utf-8") as errlog:
        async with AsyncExitStack() as stack:
            client = await stack.enter_async_context(Client(stdio_client(params, errlog=errlog)))  # type: ignore[arg-type]
            created = await client.call_tool("create_agent", {"name": "sam"})
            agent_id = created.structured_content["id"]  # type: ignore[index]
            sent = await client.call_tool("send_message", {"agent_id": agent_id, "message": "hello"})
    assert sent.is_error
    reply = sent.content[0].text  # type: ignore[union-attr]
    assert "HTTP 400" in reply  # the call did reach the fake
    assert PASSWORD not in reply and QUERY_SECRET not in reply
    assert "http://***@127.0.0.1" in reply
    assert "key=***" in reply
    logged = log_file.read_text(encoding="utf-8")
    assert "HTTP 400" in logged or "llm_api_error" in logged or "127.0.0.1" in logged, logged
    assert PASSWORD not in logged and QUERY_SECRET not in logged, logged


@pytest.mark.anyio
async def test_stdio_with_auth_configured_warns_that_it_runs_with_full_access(tmp_path: Path) -> None:
    config = tmp_path / "letta.toml"
    config.write_text(f'[auth.tokens]\n"{hash_token("a-long-enough-token-1")}" = "alice"\n', encoding="utf-8")
    log_file = tmp_path / "stderr.log"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "letta_mcp", "serve", "--config", str(config), "--data-dir", str(tmp_path / "data")],
        env=clean_env(LETTA_MCP_LOG_LEVEL="WARNING"),
    )
    with anyio.fail_after(120), log_file.open("w", encoding="utf-8") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:  # type: ignore[arg-type]
            await client.list_tools()  # serving: the start-up warning has been written
    logged = log_file.read_text(encoding="utf-8")
    assert "WARNING" in logged and "[auth] is configured but does not apply to the stdio transport" in logged
    assert "local user" in logged


@pytest.mark.anyio
async def test_stdio_without_auth_does_not_warn(tmp_path: Path) -> None:
    log_file = tmp_path / "stderr.log"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "letta_mcp", "serve", "--data-dir", str(tmp_path / "data")],
        env=clean_env(LETTA_MCP_LOG_LEVEL="WARNING"),
    )
    with anyio.fail_after(120), log_file.open("w", encoding="utf-8") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:  # type: ignore[arg-type]
            await client.list_tools()
    assert "[auth]" not in log_file.read_text(encoding="utf-8")
