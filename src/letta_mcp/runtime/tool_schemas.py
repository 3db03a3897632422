"""JSON schemas of the built-in agent tools, written for the model that calls them.

Names, parameter names, types, required lists and defaults follow Letta's built-in tools so
agents and prompts written for Letta work unchanged; the descriptions are our own. Every
description says what the tool does, when to reach for it (and when not to) and shows a call,
because small models lean on the example more than on the prose.
"""

from __future__ import annotations

from typing import Any

from letta_mcp.models import ToolSchema

CONVERSATION_SEARCH_DEFAULT_LIMIT = 5
"""How many results conversation_search returns when the model gives no limit (Letta's page size)."""
ARCHIVAL_SEARCH_DEFAULT_TOP_K = 5
"""How many results archival_memory_search returns when the model gives no top_k (Letta's page size)."""
ARCHIVAL_SEARCH_MAX_TOP_K = 50

_NO_LINE_NUMBERS = (
    "Never include the display-only line numbers (like '3→ ') or the line-number note shown with "
    "a block; quote only the block's text."
)


def _string(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _params(properties: dict[str, dict[str, Any]], required: list[str]) -> dict[str, Any]:
    """A closed JSON-Schema object: unknown arguments are errors, not silently ignored."""
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


_LABEL = _string("Label of the memory block to edit, exactly as shown in <memory_blocks> (e.g. 'human').")

_SCHEMAS = [
    ToolSchema(
        name="memory_replace",
        description=(
            "Replace one exact piece of text in a memory block with new text. Use it for small, "
            "precise edits: correct a fact, tick off a to-do item, or delete a line (pass an empty "
            "new_string). old_string must appear exactly once in the block, copied character for "
            "character including spaces; if it appears more than once, include more surrounding "
            "text to make it unique. To add new text use memory_insert; to rewrite a whole block "
            f"use memory_rethink. {_NO_LINE_NUMBERS}\n"
            'Example: memory_replace(label="human", old_string="Name: Alice", '
            'new_string="Name: Bob")'
        ),
        parameters=_params(
            {
                "label": _LABEL,
                "old_string": _string(
                    "The exact text to replace, as it appears once in the block (whitespace included)."
                ),
                "new_string": _string("The text to put in its place. An empty string deletes old_string."),
            },
            ["label", "old_string", "new_string"],
        ),
    ),
    ToolSchema(
        name="memory_insert",
        description=(
            "Insert new text as one or more whole lines into a memory block. Use it to record a "
            "new fact without touching what is already there. By default the text goes at the end "
            "of the block; insert_line=0 puts it at the top, and insert_line=N puts it after line "
            f"N (lines count from 1). {_NO_LINE_NUMBERS}\n"
            'Example: memory_insert(label="human", new_string="Prefers to be called Sam.")\n'
            'Example (at the top): memory_insert(label="todo", new_string="- [ ] Call the bank", '
            "insert_line=0)"
        ),
        parameters=_params(
            {
                "label": _LABEL,
                "new_string": _string("The text to insert; use \\n to insert several lines."),
                "insert_line": {
                    "type": "integer",
                    "description": (
                        "Line number after which to insert: 0 = before the first line, N = after "
                        "line N, -1 (default) = after the last line."
                    ),
                    "default": -1,
                },
            },
            ["label", "new_string"],
        ),
    ),
    ToolSchema(
        name="memory_rethink",
        description=(
            "Rewrite a memory block completely: its whole content becomes new_memory. Use it for "
            "large changes, such as condensing a block that is nearly full, reorganising it, or "
            "merging new information into it. Keep every fact that is still true, because "
            "anything you leave out is gone. For small edits use memory_replace or memory_insert "
            f"instead. {_NO_LINE_NUMBERS}\n"
            'Example: memory_rethink(label="human", new_memory="Name: Bob\\nJob: nurse, night '
            'shifts\\nLikes: hiking, jazz")'
        ),
        parameters=_params(
            {
                "label": _string(
                    "Label of the memory block to rewrite, exactly as shown in <memory_blocks> (e.g. 'human')."
                ),
                "new_memory": _string("The complete new content of the block."),
            },
            ["label", "new_memory"],
        ),
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
        description=(
            "Add text to the end of a memory block, as a new line. Use it to remember a new fact "
            "about the user or yourself. Any Unicode, emoji included, is fine.\n"
            'Example: core_memory_append(label="human", content="Has a dog named Rex.")'
        ),
        parameters=_params(
            {
                "label": _LABEL,
                "content": _string("The text to add at the end of the block."),
            },
            ["label", "content"],
        ),
    ),
    ToolSchema(
        name="core_memory_replace",
        description=(
            "Replace text in a memory block: every occurrence of old_content becomes new_content. "
            "Use it to correct or update a fact; pass an empty new_content to delete the text. "
            "old_content must match the block's text exactly.\n"
            'Example: core_memory_replace(label="human", old_content="Lives in Paris", '
            'new_content="Lives in Lyon")'
        ),
        parameters=_params(
            {
                "label": _LABEL,
                "old_content": _string("The exact text to replace, as it appears in the block."),
                "new_content": _string("The replacement text. An empty string deletes old_content."),
            },
            ["label", "old_content", "new_content"],
        ),
    ),
    ToolSchema(
        name="conversation_search",
        description=(
            "Search the full history of your past conversation, including messages that no longer "
            "fit in your context. Use it when the user refers to something said earlier that you "
            "cannot see, or to check what was said on a given day. Matches text in past messages; "
            "every argument is optional and they combine (query, roles, date range). Dates are "
            "inclusive: a date-only end_date covers that whole day.\n"
            'Example: conversation_search(query="birthday")\n'
            'Example: conversation_search(query="flight", roles=["user"], start_date="2024-05-01", '
            'end_date="2024-05-31", limit=10)'
        ),
        parameters=_params(
            {
                "query": _string("Text to look for in past messages. Omit it to list messages by role and date only."),
                "roles": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["assistant", "user", "tool"]},
                    "description": 'Only return messages from these roles, e.g. ["user"]. Omit for all.',
                },
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "description": (
                        "Maximum number of results to return. Omit for the default "
                        f"({CONVERSATION_SEARCH_DEFAULT_LIMIT})."
                    ),
                },
                "start_date": _string(
                    "Only messages on or after this moment, ISO 8601: 'YYYY-MM-DD' (from the start of "
                    "that day) or 'YYYY-MM-DDTHH:MM', e.g. '2024-01-15' or '2024-01-15T09:00'."
                ),
                "end_date": _string(
                    "Only messages on or before this moment, ISO 8601: 'YYYY-MM-DD' (to the end of "
                    "that day) or 'YYYY-MM-DDTHH:MM', e.g. '2024-01-20' or '2024-01-20T17:30'."
                ),
            },
            [],
        ),
    ),
]

_TAGS = {
    "type": "array",
    "items": {"type": "string"},
    "description": 'Tags, e.g. ["work", "family"].',
}
_SCHEMAS += [
    ToolSchema(
        name="archival_memory_insert",
        description=(
            "Save a piece of information to archival memory, your unlimited long-term store outside "
            "your context. Use it for facts, events, documents or notes worth keeping that do not "
            "belong in a memory block: write each one as a self-contained statement (who, what, "
            "when), since you will find it later by searching, without the conversation around it. "
            "Tags make later searches precise. Long text is split into several passages. The "
            "number of stored memories and the tags in use are shown in <memory_metadata>.\n"
            'Example: archival_memory_insert(content="2024-05-12: Sarah said her sister Emma is '
            'moving to Lisbon in June.", tags=["sarah", "family"])'
        ),
        parameters=_params(
            {
                "content": _string("The text to store, written to make sense on its own."),
                "tags": {**_TAGS, "description": 'Optional tags to file it under, e.g. ["sarah", "family"].'},
            },
            ["content"],
        ),
    ),
    ToolSchema(
        name="archival_memory_search",
        description=(
            "Search your archival memory (what you saved with archival_memory_insert, and knowledge "
            "shared with you) by meaning and by words. Use it whenever you need information that "
            "is not in your context or memory blocks: ask with the words the stored text would "
            "contain, or describe what you need. Narrow the search with tags (any or all of them) "
            "and a date range on when the memory was stored. Results come best first, each with "
            "its id, timestamp, content and tags.\n"
            'Example: archival_memory_search(query="where is Emma moving")\n'
            'Example: archival_memory_search(query="project deadline", tags=["work"], '
            'start_datetime="2024-05-01", end_datetime="2024-05-31", top_k=10)'
        ),
        parameters=_params(
            {
                "query": _string("What to look for: words, a question, or a description."),
                "tags": {**_TAGS, "description": "Only memories with these tags (see tag_match_mode)."},
                "tag_match_mode": {
                    "type": "string",
                    "enum": ["any", "all"],
                    "default": "any",
                    "description": "'any' (default): memories with at least one of the tags; 'all': with every tag.",
                },
                "top_k": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": ARCHIVAL_SEARCH_MAX_TOP_K,
                    "description": f"How many results to return (default {ARCHIVAL_SEARCH_DEFAULT_TOP_K}).",
                },
                "start_datetime": _string(
                    "Only memories stored on or after this moment, ISO 8601: '2024-01-15' or '2024-01-15T09:30'."
                ),
                "end_datetime": _string(
                    "Only memories stored on or before this moment, ISO 8601; a date alone covers that whole day."
                ),
            },
            ["query"],
        ),
    ),
]

# Agent-to-agent messaging (opt-in: `include_multi_agent_tools` or naming them in `tools`).
_MESSAGE = _string("The message for the other agent(s). Say who you are and what you need.")
_SCHEMAS += [
    ToolSchema(
        name="send_message_to_agent_and_wait_for_reply",
        description=(
            "Send a message to another agent and wait for its reply, which this tool returns. Use it to "
            "ask an agent you know by id for help or information.\n"
            'Example: send_message_to_agent_and_wait_for_reply(message="What is the budget?", '
            'other_agent_id="agent-123")'
        ),
        parameters=_params(
            {"message": _MESSAGE, "other_agent_id": _string("The id of the agent to message.")},
            ["message", "other_agent_id"],
        ),
    ),
    ToolSchema(
        name="send_message_to_agent_async",
        description=(
            "Send a one-way message to another agent without waiting for a reply (it may answer later "
            "with a message of its own).\n"
            'Example: send_message_to_agent_async(message="FYI: the launch moved to May.", '
            'other_agent_id="agent-123")'
        ),
        parameters=_params(
            {"message": _MESSAGE, "other_agent_id": _string("The id of the agent to message.")},
            ["message", "other_agent_id"],
        ),
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
