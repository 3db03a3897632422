"""Resolving model handles (``provider/model``) to configured providers."""

from __future__ import annotations

from collections.abc import Mapping

from letta_mcp.llm.base import LLMProvider, parse_model_handle
from letta_mcp.llm.client_model import CLIENT_HANDLE, ClientModelProvider
from letta_mcp.llm.errors import LLMConfigurationError


class ProviderRegistry:
    """The providers this process can call, by name (the part of a model handle before ``/``)."""

    def __init__(self, providers: Mapping[str, LLMProvider]) -> None:
        self._providers = dict(providers)
        # Not a configured endpoint: it lends the calling MCP client's model (opt-in per agent).
        self._client = ClientModelProvider()

    @property
    def names(self) -> list[str]:
        return sorted(self._providers)

    def resolve(self, handle: str) -> tuple[LLMProvider, str]:
        """The provider and its own model name for ``handle``; raises `LLMConfigurationError`."""
        if handle == CLIENT_HANDLE:
            return self._client, CLIENT_HANDLE
        name, model = parse_model_handle(handle)
        provider = self._providers.get(name)
        if provider is None:
            configured = ", ".join(self.names) or "none"
            raise LLMConfigurationError(
                f"No provider named {name!r} for model {handle!r} (configured providers: {configured}). "
                f"Use a handle like 'openai/gpt-4o-mini', or add a [providers.{name}] section with a "
                "base_url to the config file."
            )
        return provider, model

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
