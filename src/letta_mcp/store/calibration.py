"""Per-model token calibration ratios (see `runtime.tokens.Calibration`)."""

from __future__ import annotations

import aiosqlite

from letta_mcp.models import utcnow
from letta_mcp.store.codec import ts


class CalibrationQueries:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def load(self) -> dict[str, float]:
        async with self._conn.execute("SELECT model, ratio FROM token_calibration") as cur:
            return {row["model"]: float(row["ratio"]) for row in await cur.fetchall()}

    async def save(self, model: str, ratio: float) -> None:
        await self._conn.execute(
            "INSERT INTO token_calibration (model, ratio, samples, updated_at) VALUES (:model, :ratio, 1, :now)"
            " ON CONFLICT(model) DO UPDATE SET ratio = :ratio, samples = samples + 1, updated_at = :now",
            {"model": model, "ratio": ratio, "now": ts(utcnow())},
        )
