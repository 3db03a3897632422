"""Tool calls that a local server left as JSON text in the answer's ``content``.

Ollama, LM Studio and llama.cpp's ``llama-server`` only fill ``tool_calls`` when the model's chat
template has a tool-call format they parse (llama.cpp: only with ``--jinja``); otherwise the model's
call arrives as text, e.g. ``{"name": "send_message", "arguments": {"message": "hi"}}``, Llama 3.1's
``"parameters"`` spelling, inside a ```` ```json ```` fence or Hermes/Qwen ``<tool_call>`` tags, or a
list of such objects. An agent talks only through tools, so leaving that text as the reply would end
the turn with the call unmade; it is read back as the call it is.

Only when the request offered tools and the whole content is such JSON naming offered tools: prose
that merely contains JSON stays prose.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from letta_mcp.models import ToolCall

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)


def tool_calls_in_content(content: str | None, tool_names: set[str]) -> list[ToolCall]:
    """The tool calls ``content`` consists of, or [] when it is anything else."""
    if not content or not tool_names:
        return []
    text = content.strip()
    tagged = _TAGGED.findall(text)
    if tagged and not _TAGGED.sub("", text).strip():
        candidates = [_parse(t) for t in tagged]
    else:
        fenced = _FENCE.match(text)
        parsed = _parse(fenced.group(1) if fenced else text)
        candidates = parsed if isinstance(parsed, list) else [parsed]
    calls = [_call(c, tool_names) for c in candidates]
    if not calls or any(c is None for c in calls):
        return []
    return [c for c in calls if c is not None]


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _call(candidate: Any, tool_names: set[str]) -> ToolCall | None:
    if not isinstance(candidate, dict):
        return None
    # OpenAI's own shape sometimes appears verbatim: {"type": "function", "function": {...}}.
    if isinstance(candidate.get("function"), dict):
        candidate = candidate["function"]
    name = candidate.get("name")
    arguments = candidate.get("arguments", candidate.get("parameters", {}))
    if name not in tool_names or not isinstance(arguments, dict | str):
        return None
    return ToolCall(
        id=f"call_{uuid.uuid4().hex[:24]}",
        name=name,
        arguments=arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False),
    )
