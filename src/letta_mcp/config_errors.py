"""Settings errors in the words the person used: the file or environment variable as typed, and
for an unknown name the closest valid one.

Pydantic reports ``defualt_model: Extra inputs are not permitted`` at a location in the merged
settings; `describe` turns that into ``defualt_model in /etc/letta.toml is not a setting (did you
mean default_model?)``, and ``LETTA_MCP_DEFAULT_MODLE`` stays ``LETTA_MCP_DEFAULT_MODLE``.
Values are never quoted back: they may be keys.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

Loc = tuple[str, ...]


@dataclass(frozen=True)
class FromFile:
    path: Path


@dataclass(frozen=True)
class FromEnv:
    variable: str  # as the person typed it


Origin = FromFile | FromEnv


def file_origins(table: Mapping[str, Any], path: Path, prefix: Loc = ()) -> dict[Loc, Origin]:
    """Where each key of a parsed TOML file came from (tables too, for errors about a whole table)."""
    origins: dict[Loc, Origin] = {}
    for key, value in table.items():
        loc = (*prefix, key)
        origins[loc] = FromFile(path)
        if isinstance(value, Mapping):
            origins.update(file_origins(value, path, loc))
    return origins


def describe(error: ValidationError, origins: Mapping[Loc, Origin], model: type[BaseModel], env_prefix: str) -> str:
    """One line naming every problem; settings given on the command line keep their setting name."""
    return "Invalid settings: " + "; ".join(_problem(e, origins, model, env_prefix) for e in error.errors())


def _problem(err: ErrorDetails, origins: Mapping[Loc, Origin], model: type[BaseModel], env_prefix: str) -> str:
    loc = tuple(str(p) for p in err["loc"])
    if not loc:  # a check across settings (compaction_target < compaction_trigger)
        return err["msg"]
    origin = next((origins[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in origins), None)

    def name(path: Loc) -> str:
        dotted = ".".join(path)
        if isinstance(origin, FromEnv):
            return env_prefix + "__".join(path).upper()
        return f"{dotted} in {origin.path}" if isinstance(origin, FromFile) else dotted

    if err["type"] != "extra_forbidden":
        given = origin.variable if isinstance(origin, FromEnv) else name(loc)
        setting = f" ({'.'.join(loc)})" if isinstance(origin, FromEnv) else ""
        return f"{given}{setting}: {err['msg']}"
    typed = origin.variable if isinstance(origin, FromEnv) else name(loc)
    close = difflib.get_close_matches(loc[-1].lower(), _names_at(model, loc[:-1]), n=1, cutoff=0.6)
    if not close:
        return f"{typed} is not a setting (`letta-mcp config` prints them all)"
    suggestion = name((*loc[:-1], close[0]))
    if isinstance(origin, FromFile):
        suggestion = ".".join((*loc[:-1], close[0]))  # the file is already named
    return f"{typed} is not a setting (did you mean {suggestion}?)"


def _names_at(model: type[BaseModel], path: Loc) -> list[str]:
    """The setting names valid under ``path`` (a table, or an entry of a table of tables)."""
    current: type[BaseModel] = model
    rest = list(path)
    while rest:
        field = current.model_fields.get(rest.pop(0))
        if field is None:
            return []
        annotation = field.annotation
        args = get_args(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            current = annotation
        elif get_origin(annotation) is dict and isinstance(args[1], type) and issubclass(args[1], BaseModel) and rest:
            rest.pop(0)  # the entry's name, e.g. the provider in providers.<name>.base_url
            current = args[1]
        else:
            return []
    return list(current.model_fields)
