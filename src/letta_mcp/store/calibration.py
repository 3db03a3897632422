"""Per-model token calibration ratios (see `runtime.tokens.Calibration`)."""

from __future__ import annotations

from letta_mcp.models import utcnow
from letta_mcp.store.codec import ts
from letta_mcp.store.db import Db


class CalibrationQueries:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def load(self) -> dict[str, float]:
        return {
            row["model"]: float(row["ratio"])
            for row in await self._db.fetchall("SELECT model, ratio FROM token_calibration")
        }

    async def save(self, model: str, ratio: float) -> None:
        await self._db.defer(
            "INSERT INTO token_calibration (model, ratio, samples, updated_at) VALUES (:model, :ratio, 1, :now)"
            " ON CONFLICT(model) DO UPDATE SET ratio = :ratio, samples = token_calibration.samples + 1,"
            " updated_at = :now",
            {"model": model, "ratio": ratio, "now": ts(utcnow())},
        )
