"""Settings: defaults < config file < ``LETTA_MCP_*`` environment variables < command-line flags.

The config file is TOML (`configs/default.toml` documents every setting with its default); it is
chosen with ``--config FILE`` or ``LETTA_MCP_CONFIG``. Nested settings read environment variables
with ``__`` between levels (``LETTA_MCP_PROVIDERS__OLLAMA__BASE_URL``). The standard
``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` configure the ``openai`` provider when its own settings
leave them unset, so any OpenAI-compatible endpoint works with the usual variables.

Code below this module never reads the environment: settings are passed in.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

ENV_PREFIX = "LETTA_MCP_"


class ConfigError(Exception):
    """The configuration could not be loaded; the message says which setting and why."""


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("letta-mcp", appauthor=False))


class ProviderSettings(BaseModel):
    """An OpenAI-compatible endpoint, addressed in model handles as ``<name>/<model>``."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(
        default=None, description="Endpoint base URL, e.g. http://localhost:11434/v1 (None: OpenAI's)."
    )
    api_key: SecretStr | None = Field(default=None, description="API key (prefer api_key_env).")
    api_key_env: str | None = Field(default=None, description="Environment variable holding the API key.")
    timeout_s: float = Field(default=60.0, gt=0, description="Seconds to wait for one model call.")
    max_retries: int = Field(default=3, ge=0, le=10, description="Retries on 429/5xx/timeouts, with backoff.")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(default_factory=default_data_dir, description="Holds letta.db (SQLite, WAL).")
    default_model: str = Field(default="openai/gpt-4o-mini", description="Model handle for new agents.")
    default_block_limit: int = Field(default=5000, ge=1, le=1_000_000, description="Character limit of new blocks.")
    max_steps: int = Field(default=50, ge=1, le=1000, description="LLM calls per turn for new agents.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="stderr log level.")
    providers: dict[str, ProviderSettings] = Field(
        default_factory=lambda: {"openai": ProviderSettings()},
        description="OpenAI-compatible endpoints by name.",
    )

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        # MCP clients pass env values verbatim (no shell), so "~/agents" must be expanded here.
        return value.expanduser()

    @field_validator("default_model")
    @classmethod
    def _handle(cls, value: str) -> str:
        provider, sep, model = value.partition("/")
        if not (provider and sep and model):
            raise ValueError("must be 'provider/model', e.g. 'openai/gpt-4o-mini'")
        return value

    def api_key(self, provider: str) -> str | None:
        """The key for ``provider``: its ``api_key`` setting, else the variable named by ``api_key_env``
        (``OPENAI_API_KEY`` for ``openai``), as resolved by `load_settings`."""
        settings = self.providers[provider]
        if settings.api_key is not None:
            return settings.api_key.get_secret_value()
        return None


def load_settings(
    *,
    config_file: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the effective settings. ``environ`` defaults to `os.environ` (tests pass their own)."""
    env = os.environ if environ is None else environ
    # The built-in `openai` provider always exists: configuring another provider (in the file or
    # with LETTA_MCP_PROVIDERS__<NAME>__…) adds to it instead of replacing it.
    data: dict[str, Any] = {"providers": {"openai": {}}}
    path = config_file or env.get(f"{ENV_PREFIX}CONFIG")
    if path:
        file = Path(path).expanduser()
        try:
            _merge(data, tomllib.loads(file.read_text(encoding="utf-8")))
        except FileNotFoundError as e:
            raise ConfigError(f"Config file not found: {file}") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"Config file {file} is not valid TOML: {e}") from e
        except OSError as e:
            raise ConfigError(f"Config file {file} could not be read: {e}") from e
    _merge(data, _from_environ(env))
    _merge(data, {k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        settings = Settings.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_describe(e)) from e
    _apply_provider_env(settings, env)
    return settings


def _from_environ(env: Mapping[str, str]) -> dict[str, Any]:
    """``LETTA_MCP_A__B=v`` → ``{"a": {"b": "v"}}`` (names lower-cased; pydantic coerces values)."""
    out: dict[str, Any] = {}
    for key, value in env.items():
        # An empty value counts as unset (``LETTA_MCP_DATA_DIR=`` must not mean the current directory).
        if not key.startswith(ENV_PREFIX) or key == f"{ENV_PREFIX}CONFIG" or value == "":
            continue
        parts = key[len(ENV_PREFIX) :].lower().split("__")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _apply_provider_env(settings: Settings, env: Mapping[str, str]) -> None:
    for name, provider in settings.providers.items():
        if provider.api_key is None:
            var = provider.api_key_env or ("OPENAI_API_KEY" if name == "openai" else None)
            if var and env.get(var):
                provider.api_key = SecretStr(env[var])
        if name == "openai" and provider.base_url is None:
            provider.base_url = env.get("OPENAI_BASE_URL") or env.get("OPENAI_API_BASE") or None


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = dict(value) if isinstance(value, Mapping) else value


def _describe(error: ValidationError) -> str:
    problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in error.errors(include_url=False)]
    return "Invalid settings: " + "; ".join(problems)
