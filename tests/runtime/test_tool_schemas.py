"""The built-in tool schemas are valid, closed JSON Schemas with Letta's parameter shapes."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from letta_mcp.models import ToolSchema
from letta_mcp.runtime.tool_schemas import (
    BUILTIN_TOOL_SCHEMAS,
    CONVERSATION_SEARCH_DEFAULT_LIMIT,
    tool_schema,
)

# name -> (all parameters, required parameters), as in Letta's built-in tools.
EXPECTED_PARAMETERS: dict[str, tuple[list[str], list[str]]] = {
    "memory_replace": (["label", "old_string", "new_string"], ["label", "old_string", "new_string"]),
    "memory_insert": (["label", "new_string", "insert_line"], ["label", "new_string"]),
    "memory_rethink": (["label", "new_memory"], ["label", "new_memory"]),
    "memory_finish_edits": ([], []),
    "core_memory_append": (["label", "content"], ["label", "content"]),
    "core_memory_replace": (["label", "old_content", "new_content"], ["label", "old_content", "new_content"]),
    "conversation_search": (["query", "roles", "limit", "start_date", "end_date"], []),
    "archival_memory_insert": (["content", "tags"], ["content"]),
    "archival_memory_search": (
        ["query", "tags", "tag_match_mode", "top_k", "start_datetime", "end_datetime"],
        ["query"],
    ),
    "send_message_to_agent_and_wait_for_reply": (["message", "other_agent_id"], ["message", "other_agent_id"]),
    "send_message_to_agent_async": (["message", "other_agent_id"], ["message", "other_agent_id"]),
    "send_message_to_agents_matching_tags": (
        ["message", "match_all", "match_some"],
        ["message", "match_all", "match_some"],
    ),
}

# One call per tool that a model following the description would make.
VALID_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("memory_replace", {"label": "human", "old_string": "Name: Alice", "new_string": "Name: Bob"}),
    ("memory_replace", {"label": "human", "old_string": "Old fact", "new_string": ""}),
    ("memory_insert", {"label": "human", "new_string": "Likes tea"}),
    ("memory_insert", {"label": "todo", "new_string": "- [ ] Call", "insert_line": 0}),
    ("memory_rethink", {"label": "human", "new_memory": "Name: Bob\nJob: nurse"}),
    ("memory_finish_edits", {}),
    ("send_message_to_agent_and_wait_for_reply", {"message": "What is the budget?", "other_agent_id": "agent-1"}),
    ("send_message_to_agent_async", {"message": "FYI", "other_agent_id": "agent-1"}),
    ("send_message_to_agents_matching_tags", {"message": "Status?", "match_all": ["a"], "match_some": []}),
    ("core_memory_append", {"label": "human", "content": "Has a dog 🐶"}),
    ("core_memory_replace", {"label": "human", "old_content": "Paris", "new_content": "Lyon"}),
    ("conversation_search", {}),
    ("conversation_search", {"query": "birthday"}),
    (
        "conversation_search",
        {
            "query": "flight",
            "roles": ["user", "assistant"],
            "limit": 10,
            "start_date": "2024-05-01",
            "end_date": "2024-05-31T17:30",
        },
    ),
    ("archival_memory_insert", {"content": "Emma moves to Lisbon in June."}),
    ("archival_memory_insert", {"content": "Deadline is Friday", "tags": ["work"]}),
    ("archival_memory_search", {"query": "Emma"}),
    (
        "archival_memory_search",
        {
            "query": "deadline",
            "tags": ["work", "q3"],
            "tag_match_mode": "all",
            "top_k": 10,
            "start_datetime": "2024-05-01",
            "end_datetime": "2024-05-31T17:30",
        },
    ),
]

INVALID_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("memory_replace", {"label": "human", "old_string": "a"}),  # missing new_string
    ("memory_replace", {"label": "human", "old_str": "a", "new_str": "b"}),  # pre-0.16 names
    ("memory_insert", {"label": "human", "new_string": "x", "insert_line": "2"}),
    ("memory_insert", {"label": "human", "new_string": "x", "extra": True}),
    ("memory_rethink", {"new_memory": "x"}),
    ("memory_finish_edits", {"label": "human"}),
    ("core_memory_append", {"label": "human", "content": 3}),
    ("conversation_search", {"roles": ["system"]}),
    ("conversation_search", {"roles": "user"}),
    ("conversation_search", {"limit": 0}),
    ("conversation_search", {"limit": 2.5}),
    ("archival_memory_insert", {"tags": ["x"]}),  # missing content
    ("archival_memory_insert", {"content": "x", "tags": "work"}),
    ("archival_memory_search", {"query": "x", "tag_match_mode": "some"}),
    ("archival_memory_search", {"query": "x", "top_k": 0}),
    ("archival_memory_search", {"tags": ["x"]}),  # missing query
]


def test_exactly_the_expected_tools_are_built_in() -> None:
    assert set(BUILTIN_TOOL_SCHEMAS) == set(EXPECTED_PARAMETERS)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMETERS))
def test_schema_is_a_closed_valid_json_schema_object(name: str) -> None:
    schema = BUILTIN_TOOL_SCHEMAS[name]
    assert isinstance(schema, ToolSchema)
    assert schema.name == name
    parameters = schema.parameters
    jsonschema.Draft202012Validator.check_schema(parameters)
    assert parameters["type"] == "object"
    assert parameters["additionalProperties"] is False
    assert set(parameters["required"]) <= set(parameters["properties"])
    assert len(parameters["required"]) == len(set(parameters["required"]))


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMETERS))
def test_parameter_names_and_required_lists_match_letta(name: str) -> None:
    properties, required = EXPECTED_PARAMETERS[name]
    parameters = BUILTIN_TOOL_SCHEMAS[name].parameters
    assert list(parameters["properties"]) == properties
    assert parameters["required"] == required


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMETERS))
def test_every_parameter_has_a_type_and_description(name: str) -> None:
    for prop, spec in BUILTIN_TOOL_SCHEMAS[name].parameters["properties"].items():
        assert spec.get("type"), prop
        assert spec.get("description", "").strip(), prop


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMETERS))
def test_description_shows_an_example_call(name: str) -> None:
    description = BUILTIN_TOOL_SCHEMAS[name].description
    assert f"Example: {name}(" in description
    for prop in BUILTIN_TOOL_SCHEMAS[name].parameters["required"]:
        assert f"{prop}=" in description


def test_insert_line_is_an_integer_defaulting_to_minus_one() -> None:
    insert_line = BUILTIN_TOOL_SCHEMAS["memory_insert"].parameters["properties"]["insert_line"]
    assert insert_line["type"] == "integer"
    assert insert_line["default"] == -1


def test_conversation_search_param_shapes() -> None:
    properties = BUILTIN_TOOL_SCHEMAS["conversation_search"].parameters["properties"]
    assert properties["roles"]["type"] == "array"
    assert properties["roles"]["items"] == {"type": "string", "enum": ["assistant", "user", "tool"]}
    assert properties["limit"]["type"] == "integer"
    assert str(CONVERSATION_SEARCH_DEFAULT_LIMIT) in properties["limit"]["description"]
    for date in ("start_date", "end_date"):
        assert properties[date]["type"] == "string"
        assert "YYYY-MM-DD" in properties[date]["description"]


@pytest.mark.parametrize(("name", "arguments"), VALID_CALLS)
def test_typical_calls_validate(name: str, arguments: dict[str, Any]) -> None:
    jsonschema.validate(arguments, BUILTIN_TOOL_SCHEMAS[name].parameters)


@pytest.mark.parametrize(("name", "arguments"), INVALID_CALLS)
def test_malformed_calls_are_rejected(name: str, arguments: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(arguments, BUILTIN_TOOL_SCHEMAS[name].parameters)


def test_tool_schema_returns_an_independent_copy() -> None:
    copy = tool_schema("memory_insert")
    assert copy == BUILTIN_TOOL_SCHEMAS["memory_insert"]
    copy.parameters["properties"]["request_heartbeat"] = {"type": "boolean"}
    copy.parameters["required"].append("request_heartbeat")
    assert "request_heartbeat" not in BUILTIN_TOOL_SCHEMAS["memory_insert"].parameters["properties"]
    assert "request_heartbeat" not in BUILTIN_TOOL_SCHEMAS["memory_insert"].parameters["required"]


def test_tool_schema_unknown_name_lists_the_known_tools() -> None:
    with pytest.raises(KeyError, match="memory_replace") as info:
        tool_schema("send_message")
    assert "send_message" in str(info.value)
