"""The documentation cannot drift from the code.

- every MCP tool and resource the server registers is described and appears in README.md;
- every setting appears in README.md and configs/default.toml;
- the README opens with the no-clone install and the client configurations that use it; the
  developer route's test command is the one `.ci/run` runs verbatim;
- the command list names every command, and the walkthrough's Python client runs as printed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client
from pydantic import BaseModel

from fake_openai import FakeOpenAI, text, tool_call
from letta_mcp.config import ENV_PREFIX, ProviderSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DEFAULT_TOML = (ROOT / "configs" / "default.toml").read_text(encoding="utf-8")
CI_RUN = ROOT / ".ci" / "run"


def code_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.DOTALL | re.MULTILINE)


def section(heading: str) -> str:
    """The README's text under ``heading`` (a whole line such as "## Commands"), up to the next one."""
    level = heading.split(" ", 1)[0]
    body = README.split(f"\n{heading}\n", 1)[1]
    return re.split(rf"^#{{1,{len(level)}}} ", body, maxsplit=1, flags=re.MULTILINE)[0]


def commands(block: str) -> list[str]:
    return [line.strip() for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def readme_test_command() -> str:
    (line,) = [c for block in code_blocks(README) for c in commands(block) if "pytest" in c and ".[dev,local]" in c]
    return line


# --- tools and resources --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_every_tool_is_described_and_in_the_readme(client: Client) -> None:
    tools = (await client.list_tools()).tools
    assert len(tools) >= 10
    missing = [t.name for t in tools if f"`{t.name}`" not in README]
    assert not missing, f"tools missing from README.md: {missing}"
    undescribed = [t.name for t in tools if not (t.description or "").strip()]
    assert not undescribed, f"tools without a description: {undescribed}"


@pytest.mark.anyio
async def test_every_resource_is_described_and_in_the_readme(client: Client) -> None:
    resources = (await client.list_resources()).resources
    templates = (await client.list_resource_templates()).resource_templates
    uris = [str(r.uri) for r in resources] + [t.uri_template for t in templates]
    assert uris
    missing = [u for u in uris if f"`{u}`" not in README]
    assert not missing, f"resources missing from README.md: {missing}"
    undescribed = [r.name for r in [*resources, *templates] if not (r.description or "").strip()]
    assert not undescribed, f"resources without a description: {undescribed}"


@pytest.mark.anyio
async def test_readme_tool_table_matches_the_server(client: Client) -> None:
    """The tool table under '## Tools and resources' lists exactly the registered tools."""
    table = README.split("## Tools and resources", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"^\| `([a-z_]+)`", table, flags=re.MULTILINE))
    registered = {t.name for t in (await client.list_tools()).tools}
    assert named == registered


def test_readme_lists_the_agents_own_tools() -> None:
    """The default and optional built-in agent tools, as the README lists them, match the code."""
    from letta_mcp.runtime.tools import BUILTIN_TOOLS
    from letta_mcp.service.specs import DEFAULT_TOOLS

    def listed(prefix: str) -> set[str]:
        item = re.search(rf"^- {prefix}(.*?)[;.]\n(?!  )", README, flags=re.MULTILINE | re.DOTALL)
        assert item, f"README.md has no '- {prefix}' list item"
        return set(re.findall(r"`([a-z_]+)`", item.group(1).split(":", 1)[1]))

    assert listed("by default") == set(DEFAULT_TOOLS)
    assert listed("on request") == set(BUILTIN_TOOLS) - set(DEFAULT_TOOLS)


# --- settings -------------------------------------------------------------------------------------


def sections() -> dict[str, type[BaseModel]]:
    """Settings that are tables of their own ([http], [auth], …)."""
    return {
        name: field.annotation
        for name, field in Settings.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    }


def in_default_toml(name: str, table: str = "") -> bool:
    """``name`` is set, or shown commented out, in configs/default.toml (as a key or a table)."""
    key = rf"^#? ?{re.escape(name)} = "
    tables = rf"^#? ?\[{re.escape(table + name)}[.\]]"
    return bool(re.search(key, DEFAULT_TOML, flags=re.MULTILINE) or re.search(tables, DEFAULT_TOML, flags=re.MULTILINE))


SETTINGS = [name for name in Settings.model_fields if name not in sections()]
SECTION_FIELDS = [(section, name) for section, model in sections().items() for name in model.model_fields]


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_is_documented(name: str) -> None:
    assert f"`{name}`" in README, f"setting {name} missing from README.md"
    assert f"`{ENV_PREFIX}{name.upper()}" in README, f"env var for {name} missing from README.md"
    assert in_default_toml(name), f"setting {name} missing from configs/default.toml"


@pytest.mark.parametrize(("section", "name"), SECTION_FIELDS)
def test_every_section_setting_is_documented(section: str, name: str) -> None:
    assert f"`[{section}]`" in README, f"section [{section}] missing from README.md"
    assert f"`{name}`" in README, f"setting {section}.{name} missing from README.md"
    env = f"{ENV_PREFIX}{section.upper()}__{name.upper()}"
    assert f"`{env}" in README, f"env var {env} missing from README.md"
    assert in_default_toml(name, f"{section}."), f"setting {section}.{name} missing from configs/default.toml"


@pytest.mark.parametrize("name", list(ProviderSettings.model_fields))
def test_every_provider_setting_is_documented(name: str) -> None:
    assert f"`{name}`" in README, f"provider setting {name} missing from README.md"
    assert in_default_toml(name, "providers.openai."), f"provider setting {name} missing from configs/default.toml"


def test_openai_variables_are_documented() -> None:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LETTA_MCP_CONFIG"):
        assert f"`{var}`" in README


# --- quick start and CI ---------------------------------------------------------------------------


REPOSITORY = re.compile(r"git\+(https://github\.com/[\w.-]+/letta-mcp)")


def test_readme_opens_with_the_no_clone_install() -> None:
    first_heading = re.search(r"^## .*$", README, flags=re.MULTILINE)
    assert first_heading and "Quick start" in first_heading.group(0)
    uvx, pipx, developer = code_blocks(section("## Quick start"))
    (command,) = commands(uvx)
    url = REPOSITORY.search(command)
    assert url and command == f"uvx --from git+{url.group(1)} letta-mcp serve"
    assert commands(pipx) == [f"pipx install git+{url.group(1)}"]
    serve, tests = commands(developer)
    assert serve.startswith("python3 -m venv .venv") and serve.endswith("letta-mcp serve")
    assert tests.startswith("python3 -m venv .venv") and '".[dev,local]"' in tests and "pytest" in tests


def test_client_configurations_start_the_documented_install() -> None:
    url = REPOSITORY.search(README)
    assert url
    configs = [json.loads(block) for block in code_blocks(section("## Use it from Claude Desktop or VS Code"))]
    servers = [config.get("mcpServers", config.get("servers"))["letta"] for config in configs]
    assert len(servers) == 2  # Claude Desktop and VS Code
    for server in servers:
        assert server["command"] == "uvx"
        assert server["args"] == ["--from", f"git+{url.group(1)}", "letta-mcp", "serve"]


def test_the_command_list_names_every_command() -> None:
    bare = subprocess.run(
        [sys.executable, "-m", "letta_mcp"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    listed = bare.split("positional arguments:", 1)[1].split("options:", 1)[0]
    names = re.findall(r"^    (\S+)", listed, flags=re.MULTILINE)
    assert "reindex" in names
    documented = set(re.findall(r"^\| `letta-mcp ([a-z-]+)`", section("## Commands"), flags=re.MULTILINE))
    assert documented == set(names)


def test_walkthrough_python_client_runs_as_printed(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    (snippet,) = re.findall(r"^```python\n(.*?)^```", section("### From Python"), flags=re.DOTALL | re.MULTILINE)
    (tmp_path / "walkthrough.py").write_text(snippet, encoding="utf-8")
    fake_openai.script(
        tool_call("core_memory_append", {"label": "human", "content": "The user's name is Sarah."}),
        text("Nice to meet you, Sarah!"),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LETTA_MCP_", "OPENAI_"))}
    env.update(
        # `letta-mcp` on the PATH, as after `pipx install`: this environment's.
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=fake_openai.base_url,
        LETTA_MCP_DATA_DIR=str(tmp_path / "data"),
        LETTA_MCP_LOG_LEVEL="WARNING",
    )
    result = subprocess.run(
        [sys.executable, "walkthrough.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Nice to meet you, Sarah!"
    assert "human: The user's name is Sarah." in lines
    assert (tmp_path / "data" / "letta.db").is_file()  # the server used the data directory it was given


@pytest.mark.anyio
async def test_inspector_commands_call_real_tools(client: Client) -> None:
    (block,) = code_blocks(section("### From the MCP Inspector"))
    tools = {t.name for t in (await client.list_tools()).tools}
    version = re.search(r"^INSPECTOR=(\S+)$", (ROOT / ".ci" / "conformance.sh").read_text(), flags=re.MULTILINE)
    assert version
    for line in commands(block):
        assert line.startswith(f"npx @modelcontextprotocol/inspector@{version.group(1)} --cli ")
        assert line.endswith(" -- letta-mcp serve")
        tool = re.search(r"--tool-name (\S+)", line)
        assert tool and tool.group(1) in tools


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = CI_RUN.read_text(encoding="utf-8")
    assert readme_test_command() in ci
    # Not in a comment: on a line of its own that the script executes.
    executed = [line for line in ci.splitlines() if line.startswith(readme_test_command())]
    assert len(executed) == 1


def test_ci_script_is_strict_and_valid_bash() -> None:
    ci = CI_RUN.read_text(encoding="utf-8")
    assert "set -euo pipefail" in ci
    assert "ruff check src tests" in ci
    subprocess.run(["bash", "-n", str(CI_RUN)], check=True, timeout=30)
