"""Synthetic passages and a cheap embedder for the archival scale benchmark (benchmarks/archival.py).

Words are drawn from a generated vocabulary with a Zipf distribution, like natural text, so full-text
posting lists have realistic lengths (a few huge, most tiny). Queries are a few words taken from a
random passage already stored, so every query has matches.

`HashEmbedder` is a real `Embedder`: a bag-of-words random projection (each vocabulary word has a
fixed random unit vector; a text's vector is the normalised sum of its words'). Semantically it is
weak, but it costs microseconds, so a million vectors take seconds instead of the hours a neural
model would need on two cores; what this benchmark measures is the index, not the model.
"""

from __future__ import annotations

import random
import re

import numpy as np

SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
_WORD = re.compile(r"[a-z]+")


def vocabulary(size: int = 20_000, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    words: dict[str, None] = {}
    while len(words) < size:
        words["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))] = None
    return list(words)


class Corpus:
    """Deterministic passages: ``passages(start, count)`` always returns the same texts for the same range."""

    def __init__(self, vocab_size: int = 20_000, seed: int = 11) -> None:
        self.words = vocabulary(vocab_size, seed)
        ranks = np.arange(1, len(self.words) + 1, dtype=np.float64)
        self._p = (1.0 / ranks) / (1.0 / ranks).sum()
        self._seed = seed

    def passages(self, start: int, count: int) -> list[str]:
        rng = np.random.default_rng([self._seed, start, count])
        lengths = rng.integers(15, 60, size=count)
        flat = rng.choice(len(self.words), size=int(lengths.sum()), p=self._p)
        out, at = [], 0
        for n in lengths:
            out.append(" ".join(self.words[i] for i in flat[at : at + n]))
            at += n
        return out

    def queries(self, stored: int, count: int, seed: int = 5) -> list[str]:
        """``count`` queries of 2-5 words from random stored passages (each query has matches)."""
        rng = random.Random(seed)
        out = []
        for _ in range(count):
            words = self.passages(rng.randrange(stored), 1)[0].split()
            out.append(" ".join(rng.sample(words, min(len(words), rng.randint(2, 5)))))
        return out


class HashEmbedder:
    """Bag-of-words random projection (see the module docstring). Implements `Embedder`."""

    def __init__(self, words: list[str], dim: int = 384, seed: int = 3) -> None:
        table = np.random.default_rng(seed).standard_normal((len(words) + 1, dim)).astype(np.float32)
        self._table = table / np.linalg.norm(table, axis=1, keepdims=True)
        self._index = {w: i for i, w in enumerate(words)}
        self._unknown = len(words)
        self._dim = dim

    @property
    def name(self) -> str:
        return "bench/hash-bow"

    @property
    def dim(self) -> int:
        return self._dim

    async def embed(self, texts: list[str]) -> list[list[float]]:
        rows = [[self._index.get(w, self._unknown) for w in _WORD.findall(t.lower())] or [self._unknown] for t in texts]
        sums = np.stack([self._table[r].sum(axis=0) for r in rows])
        return (sums / np.clip(np.linalg.norm(sums, axis=1, keepdims=True), 1e-9, None)).tolist()

    async def aclose(self) -> None:
        return None
