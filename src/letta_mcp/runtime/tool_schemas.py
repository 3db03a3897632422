"""JSON schemas of the built-in agent tools, written for the model that calls them.

Names, parameter names, types, required lists and defaults follow Letta's built-in tools so
agents and prompts written for Letta work unchanged; the descriptions are our own. The schemas
are sent with every step and small local models run in 2k-8k token windows, so the default
tools' descriptions are lean: what the tool does, the one rule that trips models up, and one
example call (small models lean on the example more than on the prose). Details a model can
learn from a failed call stay in the tools' error messages.
"""

from __future__ import annotations

from typing import Any

from letta_mcp.models import ToolSchema

CONVERSATION_SEARCH_DEFAULT_LIMIT = 5
"""How many results conversation_search returns when the model gives no limit (Letta's page size)."""
ARCHIVAL_SEARCH_DEFAULT_TOP_K = 5
"""How many results archival_memory_search returns when the model gives no top_k (Letta's page size)."""
ARCHIVAL_SEARCH_MAX_TOP_K = 50


def _string(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _params(properties: dict[str, dict[str, Any]], required: list[str]) -> dict[str, Any]:
    """A closed JSON-Schema object: unknown arguments are errors, not silently ignored."""
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


_LABEL = _string("Block label.")
_OLD = _string("Exact current text.")
_NEW = _string("New text; empty deletes.")
_TAGS = {"type": "array", "items": {"type": "string"}, "description": 'Tags, e.g. ["work", "family"].'}
_MAX_RESULTS = "Max results (default {})."

_SCHEMAS = [
    ToolSchema(
        name="memory_replace",
        description=(
            "Replace text that occurs once in a block.\n"
            'Example: memory_replace(label="human", old_string="Al", new_string="Bob")'
        ),
        parameters=_params(
            {"label": _LABEL, "old_string": _OLD, "new_string": _NEW}, ["label", "old_string", "new_string"]
        ),
    ),
    ToolSchema(
        name="memory_insert",
        description=(
            "Add lines to a block, at the end by default.\n"
            'Example: memory_insert(label="human", new_string="Likes tea.")'
        ),
        parameters=_params(
            {
                "label": _LABEL,
                "new_string": _string("Text to add."),
                "insert_line": {"type": "integer", "description": "Insert after this line; 0 = top.", "default": -1},
            },
            ["label", "new_string"],
        ),
    ),
    ToolSchema(
        name="memory_rethink",
        description=(
            "Rewrite a whole block; keep the facts still true.\n"
            'Example: memory_rethink(label="human", new_memory="Name: Bob\\nJob: nurse")'
        ),
        parameters=_params({"label": _LABEL, "new_memory": _string("Complete new text.")}, ["label", "new_memory"]),
    ),
    ToolSchema(
        name="memory_finish_edits",
        description=(
            "Signal that you have finished editing memory and every new piece of information has "
            "been saved to the memory blocks. Call it once, as your last action, after your "
            "memory edits; it takes no arguments and changes nothing.\n"
            "Example: memory_finish_edits()"
        ),
        parameters=_params({}, []),
    ),
    ToolSchema(
        name="core_memory_append",
        description='Append a line to a block.\nExample: core_memory_append(label="human", content="Has a dog.")',
        parameters=_params({"label": _LABEL, "content": _string("Text to add.")}, ["label", "content"]),
    ),
    ToolSchema(
        name="core_memory_replace",
        description=(
            "Replace every occurrence of text in a block.\n"
            'Example: core_memory_replace(label="human", old_content="Paris", new_content="Lyon")'
        ),
        parameters=_params(
            {"label": _LABEL, "old_content": _OLD, "new_content": _NEW}, ["label", "old_content", "new_content"]
        ),
    ),
    ToolSchema(
        name="conversation_search",
        description=(
            'Search all past messages, also those out of view.\nExample: conversation_search(query="birthday")'
        ),
        parameters=_params(
            {
                "query": _string("Text to find."),
                "roles": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["assistant", "user", "tool"]},
                    "description": "Only these roles.",
                },
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "description": _MAX_RESULTS.format(CONVERSATION_SEARCH_DEFAULT_LIMIT),
                },
                "start_date": _string("From YYYY-MM-DD[THH:MM]."),
                "end_date": _string("To YYYY-MM-DD[THH:MM], inclusive."),
            },
            [],
        ),
    ),
    ToolSchema(
        name="archival_memory_insert",
        description=(
            "Save a self-contained note to archival memory, your long-term store outside the blocks.\n"
            'Example: archival_memory_insert(content="May 2024: Emma moved to Lisbon.")'
        ),
        parameters=_params({"content": _string("The note."), "tags": _TAGS}, ["content"]),
    ),
    ToolSchema(
        name="archival_memory_search",
        description=(
            'Search archival memory by meaning, best first.\nExample: archival_memory_search(query="where Emma lives")'
        ),
        parameters=_params(
            {
                "query": _string("What to find."),
                "tags": {**_TAGS, "description": "Only notes with these tags."},
                "tag_match_mode": {
                    "type": "string",
                    "enum": ["any", "all"],
                    "default": "any",
                    "description": "Match any or all tags.",
                },
                "top_k": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": ARCHIVAL_SEARCH_MAX_TOP_K,
                    "description": _MAX_RESULTS.format(ARCHIVAL_SEARCH_DEFAULT_TOP_K),
                },
                "start_datetime": _string("Stored on or after (ISO date)."),
                "end_datetime": _string("Stored on or before (ISO date)."),
            },
            ["query"],
        ),
    ),
]

# Agent-to-agent messaging (opt-in: `include_multi_agent_tools` or naming them in `tools`).
_MESSAGE = _string("The message for the other agent(s). Say who you are and what you need.")
_TO_ONE_AGENT = _params(
    {"message": _MESSAGE, "other_agent_id": _string("The id of the agent to message.")}, ["message", "other_agent_id"]
)
_SCHEMAS += [
    ToolSchema(
        name="send_message_to_agent_and_wait_for_reply",
        description=(
            "Send a message to another agent and wait for its reply, which this tool returns. Use it to "
            "ask an agent you know by id for help or information.\n"
            'Example: send_message_to_agent_and_wait_for_reply(message="What is the budget?", '
            'other_agent_id="agent-123")'
        ),
        parameters=_TO_ONE_AGENT,
    ),
    ToolSchema(
        name="send_message_to_agent_async",
        description=(
            "Send a one-way message to another agent without waiting for a reply (it may answer later "
            "with a message of its own).\n"
            'Example: send_message_to_agent_async(message="FYI: the launch moved to May.", '
            'other_agent_id="agent-123")'
        ),
        parameters=_TO_ONE_AGENT,
    ),
    ToolSchema(
        name="send_message_to_agents_matching_tags",
        description=(
            "Send a message to every agent that has all the match_all tags and at least one of the "
            "match_some tags, and return their replies.\n"
            'Example: send_message_to_agents_matching_tags(message="Status?", match_all=["team-a"], '
            'match_some=["worker", "reviewer"])'
        ),
        parameters=_params(
            {
                "message": _MESSAGE,
                "match_all": {"type": "array", "items": {"type": "string"}, "description": "Tags every target has."},
                "match_some": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Tags of which every target has at least one.",
                },
            },
            ["message", "match_all", "match_some"],
        ),
    ),
]

BUILTIN_TOOL_SCHEMAS: dict[str, ToolSchema] = {schema.name: schema for schema in _SCHEMAS}
"""Every built-in tool's schema by name. Treat as read-only; :func:`tool_schema` hands out copies."""


def tool_schema(name: str) -> ToolSchema:
    """A private copy of a built-in tool's schema, safe to adapt (e.g. to add a parameter).

    Raises ``KeyError`` naming the known tools when ``name`` is not a built-in tool.
    """
    try:
        schema = BUILTIN_TOOL_SCHEMAS[name]
    except KeyError:
        known = ", ".join(sorted(BUILTIN_TOOL_SCHEMAS))
        raise KeyError(f"unknown built-in tool {name!r}; built-in tools are: {known}") from None
    return schema.model_copy(deep=True)
