"""The tool listing, lean: every conversation of the client's model pays for it in tokens.

Pydantic's schemas repeat what a model does not need: a ``title`` for every field (the field name
again, title-cased) and, for each optional argument, a ``null`` branch with ``"default": null``
(an argument left out means the same). Caps that only fend off abuse (texts of 100 characters or
more: ids, names, documents; lists of 50 items or more) are left out too: a model does not write
near them, and a call beyond one is still refused with a line that names the cap.
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


_ABUSE_CAPS = {"maxLength": 100, "maxItems": 50}


def lean_input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without titles, abuse caps, implied keywords and the ``null`` branch of optional
    arguments."""
    return _lean(schema, for_input=True)


def lean_output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without titles; results keep their ``null``s and caps, so do their schemas."""
    return _lean(schema, for_input=False)


def _needless(key: str, value: Any, node: dict[str, Any]) -> bool:
    """Input keywords a model would not miss."""
    if key == "default":
        return value is None or value is False  # left out means null; a flag is off unless set
    if key in _ABUSE_CAPS:
        return isinstance(value, int) and value >= _ABUSE_CAPS[key]
    if key == "minLength":
        return value == 1  # a required text is not empty anyway
    return key == "type" and "enum" in node  # the values say it


def _lean(node: Any, *, for_input: bool) -> Any:
    if isinstance(node, list):
        return [_lean(item, for_input=for_input) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs"):
            # Keys here are field and model names (a field may be called "title"), not keywords.
            out[key] = {name: _lean(sub, for_input=for_input) for name, sub in value.items()}
        elif not (for_input and _needless(key, value, node)):
            out[key] = _lean(value, for_input=for_input)
    if for_input and "anyOf" in out:
        branches = [b for b in out["anyOf"] if b != {"type": "null"}]
        if len(branches) == 1:
            del out["anyOf"]
            out = {**branches[0], **out}
        else:
            out["anyOf"] = branches
    return out
