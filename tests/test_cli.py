"""The ``letta-mcp`` command, run as a real subprocess (``python -m letta_mcp``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from letta_mcp import __version__

SECRET = "sk-secret-test"


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without any letta-mcp or OpenAI settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LETTA_MCP_", "OPENAI_"))}
    env.update(extra)
    return env


def letta_mcp(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "letta_mcp", *args],
        env=env if env is not None else clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_version() -> None:
    result = letta_mcp("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"letta-mcp {__version__}"


def test_config_prints_json_with_data_dir_and_hides_the_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "agents"
    result = letta_mcp("config", "--data-dir", str(data_dir), env=clean_env(OPENAI_API_KEY=SECRET))
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)
    assert Path(settings["data_dir"]) == data_dir
    assert settings["default_model"] == "openai/gpt-4o-mini"
    assert settings["providers"]["openai"]["api_key"] not in (None, SECRET)  # set, but masked
    assert SECRET not in result.stdout
    assert SECRET not in result.stderr
    assert not data_dir.exists()  # printing the settings creates nothing


def test_config_reads_env_and_file(tmp_path: Path) -> None:
    config = tmp_path / "letta.toml"
    config.write_text('max_steps = 9\n[providers.ollama]\nbase_url = "http://localhost:11434/v1"\n')
    env = clean_env(LETTA_MCP_DATA_DIR=str(tmp_path / "env-dir"), LETTA_MCP_DEFAULT_MODEL="ollama/llama3.1")
    result = letta_mcp("config", "--config", str(config), env=env)
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)
    assert Path(settings["data_dir"]) == tmp_path / "env-dir"
    assert settings["max_steps"] == 9
    assert settings["default_model"] == "ollama/llama3.1"
    assert settings["providers"]["ollama"]["base_url"] == "http://localhost:11434/v1"
    assert "openai" in settings["providers"]


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (("config", "--config", "{tmp}/missing.toml"), {}, "Config file not found"),
        (("serve", "--config", "{tmp}/missing.toml"), {}, "Config file not found"),
        (("config",), {"LETTA_MCP_MAX_STEPS": "many"}, "max_steps"),
        (("serve",), {"LETTA_MCP_DEFAULT_MODEL": "no-slash"}, "default_model"),
        (("config", "--config", "{tmp}/bad.toml"), {}, "not valid TOML"),
    ],
)
def test_bad_config_exits_2_with_a_message(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], expected: str
) -> None:
    (tmp_path / "bad.toml").write_text("max_steps = [\n")
    result = letta_mcp(*(a.format(tmp=tmp_path) for a in args), env=clean_env(**env))
    assert result.returncode == 2
    assert expected in result.stderr
    assert result.stderr.startswith("letta-mcp: ")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unknown_command_exits_2() -> None:
    result = letta_mcp("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_serve_starts_without_api_key_and_exits_at_eof(tmp_path: Path) -> None:
    """No key, no client: the server opens its data directory, waits on stdin, and stops at EOF."""
    data_dir = tmp_path / "data"
    result = letta_mcp("serve", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # stdout is reserved for the protocol
    assert (data_dir / "letta.db").is_file()
    assert "serving" in result.stderr


def test_serve_with_unusable_data_dir_exits_1_with_a_message(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    result = letta_mcp("serve", "--data-dir", str(not_a_dir))
    assert result.returncode == 1
    assert f"cannot open the data directory {not_a_dir}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.anyio
async def test_missing_key_is_a_clear_error_on_send_message(tmp_path: Path) -> None:
    """Over real stdio: the server runs without a key; send_message says how to set one, and the
    server keeps serving."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "letta_mcp", "serve", "--data-dir", str(tmp_path / "data")],
        env={"LETTA_MCP_LOG_LEVEL": "WARNING"},
    )
    async with Client(params) as client:
        created = await client.call_tool("create_agent", {"name": "sam"})
        assert not created.is_error
        agent_id = created.structured_content["id"]
        sent = await client.call_tool("send_message", {"agent_id": agent_id, "message": "My name is Sarah"})
        assert sent.is_error
        text = sent.content[0].text
        assert "OPENAI_API_KEY" in text
        assert "OPENAI_BASE_URL" in text
        listed = await client.call_tool("list_agents", {})
        assert [a["id"] for a in listed.structured_content["agents"]] == [agent_id]


def test_bare_command_prints_help_with_every_command() -> None:
    result = letta_mcp()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: letta-mcp")
    for command in ("serve", "config", "hash-token", "reindex"):
        assert command in result.stdout
    assert "error" not in result.stderr


def test_serve_help_says_what_stdio_waits_for_and_which_model_variables_to_set() -> None:
    result = letta_mcp("serve", "--help")
    assert result.returncode == 0, result.stderr
    help_text = " ".join(result.stdout.split())
    assert "OPENAI_API_KEY" in help_text
    assert "OPENAI_BASE_URL" in help_text
    assert "waits silently for a client" in help_text
    assert "Ctrl-C" in help_text


def test_settings_typo_is_one_line_naming_what_was_typed(tmp_path: Path) -> None:
    """What an MCP client shows from its server log: one line, no traceback, the fix in it."""
    config = tmp_path / "letta.toml"
    config.write_text('defualt_model = "openai/gpt-4o"\n')
    result = letta_mcp("serve", "--config", str(config), env=clean_env(LETTA_MCP_DEFAULT_MODLE="openai/gpt-4o"))
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("letta-mcp: Invalid settings: ")
    assert f"defualt_model in {config} is not a setting (did you mean default_model?)" in line
    assert "LETTA_MCP_DEFAULT_MODLE is not a setting (did you mean LETTA_MCP_DEFAULT_MODEL?)" in line
