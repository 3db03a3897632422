"""``[mcp_servers]`` settings: each server is one kind (stdio command or URL), its name fits in a
tool name, and a mistake is one line naming the setting."""

from __future__ import annotations

from typing import Any

import pytest

from letta_mcp.config import ConfigError, load_settings


def servers(**server: Any) -> dict[str, Any]:
    return {"mcp_servers": {"files": server}}


@pytest.mark.parametrize(
    ("server", "says"),
    [
        ({}, "set either command (a stdio server) or url"),
        ({"command": "npx", "url": "http://127.0.0.1:1/mcp"}, "not both or neither"),
        ({"url": "http://127.0.0.1:1/mcp", "env": {"A": "b"}}, "args and env apply to a command"),
        ({"command": "npx", "headers": {"A": "b"}}, "headers apply to a url server"),
        ({"command": "npx", "transport": "sse"}, "transport applies to a url server"),
        ({"command": "npx", "timeout_s": 0}, "greater than 0"),
    ],
)
def test_a_server_that_is_not_one_clear_kind_is_refused(server: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match="mcp_servers") as refused:
        load_settings(overrides=servers(**server), environ={})
    assert says in str(refused.value)


def test_a_server_name_must_fit_in_a_tool_name() -> None:
    with pytest.raises(ConfigError, match=r"server names \['my files'\] must be 1-40 letters"):
        load_settings(overrides={"mcp_servers": {"my files": {"command": "npx"}}}, environ={})


def test_servers_can_come_from_environment_variables() -> None:
    settings = load_settings(
        environ={
            "LETTA_MCP_MCP_SERVERS__SEARCH__URL": "http://127.0.0.1:1/mcp",
            "LETTA_MCP_MCP_SERVERS__SEARCH__HEADERS__AUTHORIZATION": "Bearer s3cret",
        }
    )
    search = settings.mcp_servers["search"]
    assert search.url == "http://127.0.0.1:1/mcp" and search.secrets() == ["Bearer s3cret"]
    assert "s3cret" not in repr(search)
