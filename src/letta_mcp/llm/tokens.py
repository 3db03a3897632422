"""Token counting without network access, calibrated by what providers report.

Exact tokenizers either download their vocabularies on first use (tiktoken) or are too heavy to
load by default, so counts are estimated from the text's shape (words, punctuation, non-ASCII
bytes) and then corrected per model: after every call the provider reports ``prompt_tokens`` for
a request whose raw estimate we know, and the ratio of the two (smoothed) scales all later
estimates for that model. Raw estimates are stored per message when it is written, so a step
sums stored numbers and never re-tokenizes the history.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable

from letta_mcp.models import ChatMessage, Message, ModelRequest, ToolSchema

# Chat formats wrap each message in a few framing tokens (role, separators).
MESSAGE_OVERHEAD = 4
REQUEST_OVERHEAD = 3
# How much one new observation moves the calibration ratio, and its sane bounds.
_SMOOTHING = 0.3
_RATIO_BOUNDS = (0.5, 3.0)

_PIECES = re.compile(r"[A-Za-z]+|\d{1,3}|[^\sA-Za-z\d]", re.ASCII)
_JSON_PUNCTUATION = re.compile(r'[{}\[\]":,]+')


def estimate_text(text: str | None) -> int:
    """A BPE-like token estimate: letters in runs (~4 chars a token for long words), digits in
    groups of up to three, each symbol alone, and non-ASCII text by its UTF-8 bytes."""
    if not text:
        return 0
    ascii_text = text.encode("ascii", "ignore").decode("ascii")
    count = 0
    for piece in _PIECES.findall(ascii_text):
        count += 1 + (len(piece) - 1) // 5 if piece.isalpha() else 1
    non_ascii_bytes = len(text.encode("utf-8")) - len(ascii_text)
    # BPE merges a leading space and common punctuation into neighbouring tokens; measured
    # against o200k_base on prose, code and JSON the piece count runs 20-30% high. Scaling to
    # 0.85 keeps the uncalibrated estimate slightly on the safe (high) side.
    return max(1, round((count + (non_ascii_bytes + 2) // 3) * 0.85))


def estimate_message(message: Message | ChatMessage) -> int:
    tokens = MESSAGE_OVERHEAD + estimate_text(message.content)
    for call in message.tool_calls:
        tokens += MESSAGE_OVERHEAD + estimate_text(call.name) + estimate_text(call.arguments)
    return tokens


def estimate_tools(tools: Iterable[ToolSchema]) -> int:
    return sum(
        _tool_tokens(t.name, t.description, json.dumps(t.parameters, separators=(",", ":"), ensure_ascii=False))
        for t in tools
    )


@functools.lru_cache(maxsize=1024)
def _tool_tokens(name: str, description: str, parameters: str) -> int:  # parameters: compact JSON
    # Tool schemas are static and sent with every step: estimate each one once. What a model reads
    # of a schema is its words, numbers and symbols; the JSON punctuation around them is rendered
    # away by some providers (OpenAI bills a function as `name:description` plus one line per
    # parameter) and merged by BPE into a few tokens by templates that dump the JSON, so it is not
    # counted. Counting every quote and brace ran ~60% over OpenAI's count; this runs ~25% over it
    # and ~20% under the raw JSON, and calibration closes the gap per model.
    return (
        MESSAGE_OVERHEAD
        + estimate_text(f"{name}\n{description}")
        + estimate_text(_JSON_PUNCTUATION.sub(" ", parameters))
    )


def estimate_request(request: ModelRequest) -> int:
    """The raw estimate of a whole request, as the context measurement sums it."""
    return REQUEST_OVERHEAD + sum(estimate_message(m) for m in request.messages) + estimate_tools(request.tools)


def stored_tokens(message: Message) -> int:
    """The message's raw estimate: the stored count, or computed for rows written without one."""
    return message.tokens if message.tokens is not None else estimate_message(message)


class Calibration:
    """Per-model ratios of provider-reported prompt tokens to our raw estimates."""

    def __init__(self, ratios: dict[str, float] | None = None) -> None:
        self._ratios = dict(ratios or {})

    def ratio(self, model: str) -> float:
        return self._ratios.get(model, 1.0)

    def scale(self, model: str, raw: int) -> int:
        return round(raw * self.ratio(model))

    def observe(self, model: str, raw: int, reported: int) -> float | None:
        """Fold in one call's reported prompt tokens; returns the new ratio when it moved by more than
        0.5% (worth persisting), else None."""
        if raw <= 0 or reported <= 0:
            return None
        low, high = _RATIO_BOUNDS
        seen = min(max(reported / raw, low), high)
        current = self._ratios.get(model)
        updated = seen if current is None else current + _SMOOTHING * (seen - current)
        self._ratios[model] = updated
        return updated if current is None or abs(updated - current) > 0.005 * current else None
