"""Known context-window sizes (in tokens) by model name.

Matched by the longest known prefix of the model part of a handle, so dated or quantized
variants (``gpt-4o-mini-2024-07-18``, ``llama3.1:8b``) resolve to their family. Unknown models
get `DEFAULT_CONTEXT_WINDOW`; set ``context_windows`` in the config or ``context_window`` on the
agent when you know better (local servers often run with a smaller window than the model allows).
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_CONTEXT_WINDOW = 32_000

KNOWN_CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-5": 400_000,
    "gpt-4.1": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-4": 8_192,
    "gpt-3.5-turbo": 16_385,
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "claude": 200_000,
    "gemini": 1_048_576,
    "llama3.1": 128_000,
    "llama3.2": 128_000,
    "llama3.3": 128_000,
    "llama-3.1": 128_000,
    "llama-3.3": 128_000,
    "qwen2.5": 32_768,
    "qwen3": 40_960,
    "mistral": 32_768,
    "mixtral": 32_768,
    "deepseek": 64_000,
    "phi3": 4_096,
}


def context_window_for(handle: str, overrides: Mapping[str, int] | None = None) -> int:
    """The window for a model handle (``provider/model``): configured override, known family, or default.

    ``overrides`` keys may be full handles (``ollama/llama3.1``) or bare model names.
    """
    model = handle.partition("/")[2] or handle
    for key in (handle, model):
        if overrides and key in overrides:
            return overrides[key]
    name = model.rsplit("/", 1)[-1].lower()
    best = max((p for p in KNOWN_CONTEXT_WINDOWS if name.startswith(p)), key=len, default=None)
    return KNOWN_CONTEXT_WINDOWS[best] if best else DEFAULT_CONTEXT_WINDOW
