"""Embedders behind one small interface (`Embedder`): none, OpenAI-compatible, local ONNX."""

from letta_mcp.embed.base import Embedder

__all__ = ["Embedder"]
