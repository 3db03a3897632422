"""Conversions between Python values and SQLite column values (timestamps, JSON)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def ts(value: datetime) -> str:
    """A UTC timestamp in a fixed-width ISO form, so text order is time order."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def from_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads(value: str | None, default: Any = None) -> Any:
    return json.loads(value) if value is not None else default
