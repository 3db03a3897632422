"""The one error of the Agent File converter, and resolving file-local ids (``agent-0``, ``block-3``)."""

from __future__ import annotations

from typing import Any


class AgentFileError(Exception):
    """The document cannot be imported; the message says what to fix. Nothing was written."""


def index_ids(kind: str, records: list[Any]) -> dict[str, Any]:
    by_id: dict[str, Any] = {}
    for i, record in enumerate(records):
        if not record.id:
            raise AgentFileError(f"{kind}s[{i}] has no id; every {kind} of a v2 Agent File needs one.")
        if record.id in by_id:
            raise AgentFileError(f"The id {record.id!r} appears twice among the {kind}s; file ids must be unique.")
        by_id[record.id] = record
    return by_id


def resolve(owner: str, kind: str, ref: str, by_id: dict[str, Any]) -> Any:
    try:
        return by_id[ref]
    except KeyError:
        raise AgentFileError(
            f"{owner} refers to {kind} {ref!r}, which the Agent File does not contain; the file is "
            "incomplete or was edited by hand."
        ) from None
