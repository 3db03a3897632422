"""The embedder interface."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors. ``name`` + ``dim`` identify the vector space: vectors from two
    embedders are never mixed in one index."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order. Blocking work runs off the event loop."""
        ...

    async def aclose(self) -> None: ...
