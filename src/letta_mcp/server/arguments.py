"""Rejected tool arguments, told to the calling model in one line per problem.

Pydantic's own text (``1 validation error for send_messageArguments … For further information
visit …``) names an internal class and a URL; a model acts better on "send_message: argument
'message' is required (…)". What is expected comes from the tool's input schema, so the message
always matches what the client was shown.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

# Pydantic prefixes the text of a ValueError raised in our validators with this.
_VALUE_ERROR_PREFIX = "Value error, "


def describe(tool: str, error: ValidationError, schema: dict[str, Any]) -> str:
    """One line per rejected argument, e.g. ``list_agents: 'limit' must be an integer between 1 and
    200, got 'abc'``. ``schema`` is the tool's input schema."""
    lines: list[str] = []
    for detail in error.errors(include_url=False):
        line = _line(tool, detail, schema)
        if line not in lines:  # a union reports one failure per branch; say it once
            lines.append(line)
    return "\n".join(lines)


def _line(tool: str, detail: ErrorDetails, schema: dict[str, Any]) -> str:
    path, leaf = _walk(detail["loc"], schema)
    if detail["type"] == "missing":
        hint = leaf.get("description")
        return f"{tool}: argument '{path}' is required" + (f" ({hint})" if hint else "")
    if detail["type"] == "extra_forbidden":
        return f"{tool}: '{path}' is not an accepted field; remove it"
    got = _shown(detail.get("input"))
    if detail["type"] == "value_error":
        # Our validators phrase their rule as "must …".
        return f"{tool}: '{path}' {detail['msg'].removeprefix(_VALUE_ERROR_PREFIX)}, got {got}"
    return f"{tool}: '{path}' must be {_expected(leaf, schema)}, got {got}"


def _walk(loc: tuple[int | str, ...], root: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The readable path of ``loc`` (``blocks[0].label``) and the schema found there.

    Pydantic also puts the union branch it tried into ``loc`` (``('start_date', 'datetime')``);
    only steps that exist in the schema are kept.
    """
    path = ""
    node: dict[str, Any] = {"properties": root.get("properties", {})}
    for step in loc:
        node = _resolve(node, root)
        if isinstance(step, int) and "items" in node:
            path += f"[{step}]"
            node = node["items"]
        elif isinstance(step, str) and step in node.get("properties", {}):
            path += f".{step}" if path else step
            node = node["properties"][step]
    return path, _resolve(node, root)


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow a ``$ref`` and drop the ``null`` branch of an optional argument."""
    if "$ref" in node:
        node = root.get("$defs", {}).get(node["$ref"].rsplit("/", 1)[-1], {})
    branches = [b for b in node.get("anyOf", ()) if b.get("type") != "null"]
    if len(branches) == 1:
        return _resolve(branches[0], root)
    return node


def _expected(node: dict[str, Any], root: dict[str, Any]) -> str:
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if b.get("type") != "null"]
        return " or ".join(dict.fromkeys(_expected(_resolve(b, root), root) for b in branches))
    if "enum" in node:
        return "one of " + ", ".join(json.dumps(v) for v in node["enum"])
    kind = node.get("type")
    if kind in ("integer", "number"):
        noun = "an integer" if kind == "integer" else "a number"
        low, high = node.get("minimum"), node.get("maximum")
        if low is not None and high is not None:
            return f"{noun} between {low} and {high}"
        if low is not None:
            return f"{noun} of at least {low}"
        return noun
    if kind == "string":
        return _string(node)
    if kind == "boolean":
        return "true or false"
    if kind == "array":
        most = node.get("maxItems")
        return "a list" + (f" of at most {most} items" if most is not None else "")
    if kind == "object" or "properties" in node:
        return "an object with the fields " + ", ".join(node.get("properties", {}))
    return "a valid value"


def _string(node: dict[str, Any]) -> str:
    fmt = node.get("format")
    if fmt == "date":
        return "a date like '2024-05-01'"
    if fmt == "date-time":
        return "a date and time like '2024-05-01T09:30:00Z'"
    low, high = node.get("minLength", 0), node.get("maxLength")
    if high is not None:
        return f"a text of {low} to {high} characters" if low else f"a text of at most {high} characters"
    return "a non-empty text" if low else "a text"


def _shown(value: Any, width: int = 60) -> str:
    """The rejected value, short enough to quote back."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=repr)
    return text if len(text) <= width else text[: width - 1] + "…"
