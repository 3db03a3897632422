"""The tool listing, lean: every conversation of the client's model pays for it in tokens.

Pydantic's schemas repeat what a model does not need: a ``title`` for every field (the field name
again, title-cased) and, for each optional argument, a ``null`` branch with ``"default": null``
(an argument left out means the same). Removing them keeps the schemas exact about what to send.
"""

from __future__ import annotations

import inspect
import re
from typing import Any


def clean_description(docstring: str) -> str:
    """A docstring as clients should show it: no source indentation, and lines wrapped for the source
    joined into paragraphs (clients wrap text themselves)."""
    paragraphs = inspect.cleandoc(docstring).split("\n\n")
    return "\n\n".join(re.sub(r"\s*\n\s*", " ", p) for p in paragraphs)


def lean_input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without titles and without the ``null`` branch of optional arguments."""
    return _lean(schema, drop_null=True)


def lean_output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without titles; results keep their ``null``s, so do their schemas."""
    return _lean(schema, drop_null=False)


def _lean(node: Any, *, drop_null: bool) -> Any:
    if isinstance(node, list):
        return [_lean(item, drop_null=drop_null) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs"):
            # Keys here are field and model names (a field may be called "title"), not keywords.
            out[key] = {name: _lean(sub, drop_null=drop_null) for name, sub in value.items()}
        elif drop_null and key == "default" and value is None:
            continue
        else:
            out[key] = _lean(value, drop_null=drop_null)
    if drop_null and "anyOf" in out:
        branches = [b for b in out["anyOf"] if b != {"type": "null"}]
        if len(branches) == 1:
            del out["anyOf"]
            out = {**branches[0], **out}
        else:
            out["anyOf"] = branches
    return out
