"""Reading an Agent File: size, JSON (also double-encoded), v2 schema, or legacy v1 rewritten as v2.

The letta-ai/agent-file examples ship as a JSON string holding the JSON. A legacy v1 file (Letta
≤ 0.10: one agent, blocks and tools inline, no ids, ``in_context_message_indices`` in any order)
becomes a v2 document with file-local ids, so the rest of the import has one shape to handle.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from letta_mcp.service.agentfile.errors import AgentFileError
from letta_mcp.service.agentfile.schema import AgentFileV1, AgentFileV2, AgentRecord

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
"""Largest Agent File accepted (the biggest public one, lettabot-builder, is 1.2 MB)."""


def parse_document(raw: str | bytes) -> AgentFileV2:
    """The document as a v2 file (a v1 file is converted). Raises `AgentFileError`."""
    size = len(raw.encode("utf-8") if isinstance(raw, str) else raw)
    if size > MAX_DOCUMENT_BYTES:
        raise AgentFileError(
            f"The Agent File is {size:,} bytes; at most {MAX_DOCUMENT_BYTES:,} are accepted. "
            "Export with fewer messages (messages='in_context') or without archival passages."
        )
    try:
        data: Any = json.loads(raw)
        if isinstance(data, str):  # the agent-file examples are a JSON string holding the JSON
            data = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AgentFileError(f"The Agent File is not valid JSON: {e}. Pass the .af file's text unchanged.") from e
    if not isinstance(data, dict):
        raise AgentFileError("The Agent File must be a JSON object (a Letta .af export).")
    try:
        if isinstance(data.get("agents"), list):
            return AgentFileV2.model_validate(data)
        if "core_memory" in data or "in_context_message_indices" in data:
            return _v1_to_v2(AgentFileV1.model_validate(data))
    except ValidationError as e:
        raise AgentFileError(_describe(e)) from e
    raise AgentFileError(
        "This is not a Letta Agent File: expected a v2 document (with an 'agents' list) or a legacy "
        f"v1 one (with 'core_memory'); found the keys {', '.join(sorted(data)[:12]) or 'none'}."
    )


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"])
        problems.append(f"{where}: {item['msg']}")
    more = f" (and {error.error_count() - 5} more)" if error.error_count() > 5 else ""
    return f"The Agent File does not match Letta's schema: {'; '.join(problems)}{more}."


def _v1_to_v2(v1: AgentFileV1) -> AgentFileV2:
    """A legacy single-agent file in the v2 shape: inline blocks/tools get file ids, context
    indices (unordered in real files) become message ids."""
    if v1.multi_agent_group:
        raise AgentFileError(
            "Legacy format (v1) with a multi_agent_group: legacy groups cannot be mapped. Export the "
            "agents again from a current Letta (v2 Agent Files carry groups)."
        )
    messages = [m.model_copy(update={"id": f"message-{i}"}) for i, m in enumerate(v1.messages)]
    in_context: list[str] = []
    for index in v1.in_context_message_indices:
        if not 0 <= index < len(messages):
            raise AgentFileError(
                f"Legacy format (v1): in_context_message_indices has {index}, but the file holds "
                f"{len(messages)} messages."
            )
        in_context.append(f"message-{index}")
    blocks = [b.model_copy(update={"id": f"block-{i}"}) for i, b in enumerate(v1.core_memory)]
    tools = [t.model_copy(update={"id": f"tool-{i}"}) for i, t in enumerate(v1.tools)]
    tags = [t if isinstance(t, str) else str(t.get("tag", "")) for t in v1.tags or []]
    agent = AgentRecord(
        id="agent-0",
        name=v1.name,
        system=v1.system,
        agent_type=v1.agent_type,
        description=v1.description,
        metadata=v1.metadata,
        tags=[t for t in tags if t],
        llm_config=v1.llm_config,
        tool_ids=[t.id for t in tools if t.id],
        block_ids=[b.id for b in blocks if b.id],
        tool_rules=v1.tool_rules,
        messages=messages,
        in_context_message_ids=in_context,
    )
    return AgentFileV2(agents=[agent], blocks=blocks, tools=tools)
