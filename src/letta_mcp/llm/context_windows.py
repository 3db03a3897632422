"""Known context-window sizes (in tokens) by model name.

Matched by the longest known prefix of the model part of a handle, so dated or quantized
variants (``gpt-4o-mini-2024-07-18``, ``llama3.1:8b``) resolve to their family. Unknown models
get `DEFAULT_CONTEXT_WINDOW`; set ``context_windows`` in the config or ``context_window`` on the
agent when you know better.

Local servers load a model with a window of their own, usually far smaller than the model allows,
and silently drop what does not fit. So a provider named after one of them (``[providers.ollama]``,
``lmstudio``, ``llamacpp``) gets that server's default window (`LOCAL_SERVER_WINDOWS`), whatever the
model. vLLM serves the model's full length by default, so it keeps the model table. When you start
the server with a larger window (Ollama ``num_ctx``/``OLLAMA_CONTEXT_LENGTH``, LM Studio's context
length, ``llama-server -c``), say so in ``context_windows`` (``"ollama/llama3.1" = 16384``).
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


# Default windows of local OpenAI-compatible servers, by the provider name the README suggests for them.
# Ollama's is 2048 before 0.6 and 4096 since; the smaller is assumed so that prompts always fit.
LOCAL_SERVER_WINDOWS: dict[str, int] = {
    "ollama": 2_048,
    "lmstudio": 4_096,
    "lm-studio": 4_096,
    "llamacpp": 4_096,
    "llama-cpp": 4_096,
    "llama-server": 4_096,
}


def context_window_for(handle: str, overrides: Mapping[str, int] | None = None) -> int:
    """The window for a model handle (``provider/model``): configured override, a local server's
    default (by provider name), known family, or default.

    ``overrides`` keys may be full handles (``ollama/llama3.1``) or bare model names.
    """
    model = handle.partition("/")[2] or handle
    for key in (handle, model):
        if overrides and key in overrides:
            return overrides[key]
    server = handle.partition("/")[0].lower() if "/" in handle else ""
    if server in LOCAL_SERVER_WINDOWS:
        return LOCAL_SERVER_WINDOWS[server]
    name = model.rsplit("/", 1)[-1].lower()
    best = max((p for p in KNOWN_CONTEXT_WINDOWS if name.startswith(p)), key=len, default=None)
    return KNOWN_CONTEXT_WINDOWS[best] if best else DEFAULT_CONTEXT_WINDOW
