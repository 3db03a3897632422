"""Tiny deterministic embedders for the archival tests: real `Embedder` implementations, no model.

`BagOfWords` maps each word (after a small synonym table, so "puppy" and "dog" share a bucket) to
a crc32 bucket and L2-normalises the counts. Texts that share words or synonyms are close; others
are orthogonal. That is enough to tell vector search from full-text search in a test.
"""

from __future__ import annotations

import math
import re
import zlib

import anyio

from letta_mcp.embed.errors import EmbedError

SYNONYMS = {"puppy": "dog", "canine": "dog", "hound": "dog", "automobile": "car", "vehicle": "car"}


class BagOfWords:
    def __init__(self, name: str = "test/bag-of-words", dim: int = 64, gate: anyio.Event | None = None) -> None:
        self._name = name
        self._dim = dim
        self._gate = gate  # when set, embed() waits for it: "the embedder is still busy"
        self.calls = 0
        self.closed = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def vector(self, text: str) -> list[float]:
        vector = [0.0] * self._dim
        for word in re.findall(r"\w+", text.lower()):
            vector[zlib.crc32(SYNONYMS.get(word, word).encode()) % self._dim] += 1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if self._gate is not None:
            await self._gate.wait()
        self.calls += 1
        return [self.vector(t) for t in texts]

    async def aclose(self) -> None:
        self.closed = True


class Unreachable(BagOfWords):
    """An embedder whose service is down: every call fails like a network error would."""

    async def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        raise EmbedError("Could not get embeddings: connection refused")


class Stalling(BagOfWords):
    """A slow endpoint: after `stall`, each call announces itself (``started``) and then waits until
    `release` (a request held up by a network timeout and its retries)."""

    def __init__(self) -> None:
        super().__init__(name="test/stalling")
        self.started = anyio.Event()
        self.stalled = 0  # calls that had to wait

    def stall(self) -> None:
        self._gate = anyio.Event()

    def release(self) -> None:
        if self._gate is not None:
            self._gate.set()

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if self._gate is not None and not self._gate.is_set():
            self.stalled += 1
            self.started.set()
        return await super().embed(texts)
