"""The documentation cannot drift from the code.

- every MCP tool and resource the server registers is described and appears in README.md;
- every setting appears in README.md and configs/default.toml;
- the README opens with the two quick-start commands, and `.ci/run` runs its test command verbatim.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from mcp import Client
from pydantic import BaseModel

from letta_mcp.config import ENV_PREFIX, ProviderSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DEFAULT_TOML = (ROOT / "configs" / "default.toml").read_text(encoding="utf-8")
CI_RUN = ROOT / ".ci" / "run"


def code_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.DOTALL | re.MULTILINE)


def quick_start_commands() -> list[str]:
    """The command lines of the README's first code block (the quick start)."""
    first = code_blocks(README)[0]
    return [line.strip() for line in first.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def readme_test_command() -> str:
    (line,) = [c for c in quick_start_commands() if "pytest" in c]
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


def test_readme_opens_with_the_quick_start() -> None:
    first_heading = re.search(r"^## .*$", README, flags=re.MULTILINE)
    assert first_heading and "Quick start" in first_heading.group(0)
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    serve, tests = commands
    assert serve.startswith("python3 -m venv .venv") and serve.endswith("letta-mcp serve")
    assert tests.startswith("python3 -m venv .venv") and '".[dev,local]"' in tests and "pytest" in tests


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
