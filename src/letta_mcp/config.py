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
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from letta_mcp.config_errors import FromEnv, Loc, Origin, describe, file_origins

ENV_PREFIX = "LETTA_MCP_"
# The person at this machine (stdio, library use, HTTP without auth): no credential may name it.
LOCAL_PRINCIPAL = "local"
# JWT principals are named ``jwt:<iss>:<subject>``, a namespace static tokens may not enter.
JWT_PREFIX = "jwt:"


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


def _comma_list(value: Any) -> Any:
    """Lists also read as comma-separated text, so environment variables can set them."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class MultiAgentSettings(BaseModel):
    """Agent-to-agent messaging (the multi-agent tools) and its safety limits."""

    model_config = ConfigDict(extra="forbid")

    max_depth: int = Field(
        default=4, ge=1, le=32, description="Agents in one chain of calls started by one message (A → B → C …)."
    )
    max_fanout: int = Field(
        default=32, ge=1, le=1000, description="Agents one send_message_to_agents_matching_tags call may reach."
    )
    concurrency: int = Field(default=4, ge=1, le=64, description="Targets of a tag fan-out messaged at once.")
    reply_timeout_s: float = Field(
        default=300.0, gt=0, le=3600, description="Seconds an agent waits for another agent's reply."
    )


class TaskSettings(BaseModel):
    """Long turns served as MCP Tasks (the io.modelcontextprotocol/tasks extension)."""

    model_config = ConfigDict(extra="forbid")

    threshold_s: float = Field(
        default=1.0,
        ge=0,
        le=3600,
        description="A send_message, approve_run, import_agent or compact_context call from a client that "
        "declared the extension becomes a task once it runs longer than this.",
    )
    ttl_ms: int | None = Field(
        default=None, ge=1000, description="Task lifetime promised to clients (None: unlimited; runs are kept)."
    )
    poll_interval_ms: int = Field(
        default=1000, ge=10, le=600_000, description="How often clients are asked to poll tasks/get."
    )


# LanceDB (object_store) storage options: the names also accepted for one, and the standard
# variables that set it when the configuration does not (first one set wins).
_STORAGE_OPTION_ALIASES = {
    "endpoint": "aws_endpoint",
    "endpoint_url": "aws_endpoint",
    "aws_endpoint_url": "aws_endpoint",
    "aws_allow_http": "allow_http",
    "region": "aws_region",
    "aws_default_region": "aws_region",
    "access_key_id": "aws_access_key_id",
    "secret_access_key": "aws_secret_access_key",
    "session_token": "aws_session_token",
    "token": "aws_session_token",
    "aws_token": "aws_session_token",
}
_STORAGE_ENV = {
    "aws_endpoint": ("AWS_ENDPOINT_URL", "AWS_ENDPOINT"),
    "allow_http": ("AWS_ALLOW_HTTP",),
    "aws_region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "aws_access_key_id": ("AWS_ACCESS_KEY_ID",),
    "aws_secret_access_key": ("AWS_SECRET_ACCESS_KEY",),
    "aws_session_token": ("AWS_SESSION_TOKEN",),
}
_SECRET_OPTION = re.compile(r"key|secret|token|password|credential|sas", re.IGNORECASE)

_SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class McpServerSettings(BaseModel):
    """Another MCP server whose tools agents may call (``mcp:<name>/<tool>``): a command started as
    a stdio subprocess, or a URL. Only the operator's configuration declares these; ``env`` and
    ``headers`` are secrets, never shown by any tool or log line."""

    model_config = ConfigDict(extra="forbid")

    command: str | None = Field(default=None, description="Executable of a stdio server, e.g. 'npx' or 'uvx'.")
    args: list[str] = Field(default_factory=list, description="Its command-line arguments.")
    env: dict[str, SecretStr] = Field(
        default_factory=dict, description="Extra environment variables for it (the rest of ours is not passed)."
    )
    url: str | None = Field(default=None, description="Endpoint of a Streamable HTTP (or SSE) server.")
    transport: Literal["streamable-http", "sse"] = Field(
        default="streamable-http", description="How to reach ``url``: streamable-http or the legacy sse."
    )
    headers: dict[str, SecretStr] = Field(default_factory=dict, description="HTTP headers, e.g. Authorization.")
    timeout_s: float = Field(
        default=30.0, gt=0, le=3600, description="Seconds for starting or connecting, and for one tool call."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> McpServerSettings:
        if (self.command is None) == (self.url is None):
            raise ValueError("set either command (a stdio server) or url (an HTTP server), not both or neither")
        if self.url is None and self.headers:
            raise ValueError("headers apply to a url server; a stdio server takes env")
        if self.command is None and (self.args or self.env):
            raise ValueError("args and env apply to a command (stdio) server; a url server takes headers")
        if self.url is None and "transport" in self.model_fields_set:
            raise ValueError("transport applies to a url server; a command server always talks over stdio")
        return self

    def secrets(self) -> list[str]:
        """The values that must never be shown (env values and header values)."""
        return [v.get_secret_value() for v in (*self.env.values(), *self.headers.values()) if v.get_secret_value()]


class HttpSettings(BaseModel):
    """The HTTP transports (``serve --transport streamable-http|sse``); stdio ignores them."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="Address to listen on (--host).")
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port to listen on (--port; 0: any free port).")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host header values accepted besides the loopback names, e.g. 'mcp.example.com' or "
        "'mcp.example.com:*' (any port); other hosts get 421 (DNS-rebinding protection).",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser Origin values accepted besides loopback ones, e.g. 'https://app.example.com'.",
    )
    max_request_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="Larger request bodies get 413 before being parsed."
    )
    session_idle_timeout_s: float = Field(
        default=1800.0, gt=0, description="Idle Streamable HTTP sessions (legacy protocol) are closed after this."
    )
    insecure: bool = Field(
        default=False, description="Allow a non-loopback host without auth (--insecure), e.g. behind an auth proxy."
    )
    ui: bool = Field(
        default=True, description="Serve the web inspector at /ui (same auth as /mcp); `letta-mcp ui` serves it alone."
    )
    stateless: bool = Field(
        default=False,
        description="Keep no Streamable HTTP sessions, so any replica behind a load balancer answers any request "
        "(2026-07-28 clients need none anyway): handshake-era clients then get no resources/subscribe, "
        "sampling or mid-call elicitation. Needs request_state_key.",
    )
    request_state_key: SecretStr | None = Field(
        default=None,
        description="Secret of 32+ characters, the same on every replica, sealing the state a client sends back "
        "on the retry of a multi-round-trip call (an approval asked by elicitation), so any replica accepts it. "
        "Unset: a key of this process only.",
    )

    _lists = field_validator("allowed_hosts", "allowed_origins", mode="before")(_comma_list)

    @field_validator("request_state_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("must be at least 32 bytes long, e.g. the output of `openssl rand -hex 32`")
        return value

    @model_validator(mode="after")
    def _stateless_needs_key(self) -> HttpSettings:
        if self.stateless and self.request_state_key is None:
            raise ValueError(
                "stateless replicas must share a request_state_key (LETTA_MCP_HTTP__REQUEST_STATE_KEY): set the "
                "same secret of 32+ characters on every replica, e.g. the output of `openssl rand -hex 32`"
            )
        return self


class AuthSettings(BaseModel):
    """Who may use the HTTP transports. Unset (no tokens, no JWT key): no auth, loopback only."""

    model_config = ConfigDict(extra="forbid")

    tokens: dict[str, str] = Field(
        default_factory=dict,
        description="Bearer tokens as SHA-256 hex digest -> principal name (digests from `letta-mcp hash-token`).",
    )
    admins: list[str] = Field(default_factory=list, description="Principals that see every principal's agents.")
    jwt_key_file: Path | None = Field(
        default=None, description="PEM public key (RS*/ES*/EdDSA) or shared secret (HS*) that signs accepted JWTs."
    )
    jwt_issuer: str | None = Field(default=None, description="Required `iss` claim of JWTs.")
    jwt_audience: str | None = Field(default=None, description="Required `aud` claim of JWTs.")
    jwt_algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "ES256"], description="Accepted JWT signature algorithms."
    )
    jwt_principal_claim: str = Field(default="sub", description="JWT claim naming the principal.")
    jwt_subject_map: dict[str, str] = Field(
        default_factory=dict,
        description="JWT principal 'jwt:<iss>:<subject>' -> the owner name it acts as (e.g. its name before "
        "a migration, or a static-token principal).",
    )
    resource_url: str | None = Field(
        default=None,
        description="Public URL of the /mcp endpoint; with jwt_issuer, served as OAuth protected-resource "
        "metadata so OAuth clients find the issuer.",
    )

    _lists = field_validator("admins", "jwt_algorithms", mode="before")(_comma_list)

    @field_validator("jwt_key_file")
    @classmethod
    def _expand_key_file(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("tokens")
    @classmethod
    def _digests(cls, value: dict[str, str]) -> dict[str, str]:
        for digest, principal in value.items():
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest.lower()):
                raise ValueError(
                    f"keys must be SHA-256 hex digests of tokens (64 hex digits), not {digest[:8]!r}…: "
                    "run `letta-mcp hash-token` and use its output"
                )
            if not principal.strip():
                raise ValueError("each token must map to a principal name")
            _check_owner_name(principal, "a token's principal")
            if principal.startswith(JWT_PREFIX):
                raise ValueError(f"a token's principal may not start with {JWT_PREFIX!r} (JWT principals' namespace)")
        return {digest.lower(): principal for digest, principal in value.items()}

    @field_validator("jwt_subject_map")
    @classmethod
    def _subject_map(cls, value: dict[str, str]) -> dict[str, str]:
        for name, owner in value.items():
            if not name.startswith(JWT_PREFIX):
                raise ValueError(
                    f"keys are JWT principals 'jwt:<iss>:<subject>' (e.g. 'jwt:https://auth.example.com/:carol'), "
                    f"not {name!r}"
                )
            if not owner.strip():
                raise ValueError(f"{name!r} must map to an owner name")
            _check_owner_name(owner, f"the owner {name!r} maps to")
        return value

    @property
    def configured(self) -> bool:
        return bool(self.tokens) or self.jwt_key_file is not None


def _check_owner_name(name: str, what: str) -> None:
    if name == LOCAL_PRINCIPAL:
        raise ValueError(
            f"{what} may not be {LOCAL_PRINCIPAL!r}: that name is reserved for the local user (stdio and HTTP "
            "without auth); to hand local agents to an authenticated principal, see README 'Principals'"
        )


ToolGroup = Literal["agents", "memory", "archival", "runs", "context", "templates", "tools"]
TOOL_GROUPS: tuple[ToolGroup, ...] = get_args(ToolGroup)


class Limits(BaseModel):
    """What one principal may configure and open; `LimitSettings` holds the defaults and overrides."""

    model_config = ConfigDict(extra="forbid")

    allowed_models: list[str] = Field(
        default_factory=list,
        description="Model handles agents may use, with * wildcards ('openai/gpt-4o-mini', 'ollama/*'); "
        "empty: any configured model.",
    )
    max_steps: int = Field(default=100, ge=1, le=1000, description="Highest max_steps of an agent or a turn.")
    context_window: int = Field(
        default=2_000_000, ge=256, le=100_000_000, description="Highest context_window (tokens) an agent may set."
    )
    max_tags: int = Field(default=50, ge=0, le=10_000, description="Tags per agent.")
    max_tag_chars: int = Field(default=64, ge=1, le=10_000, description="Characters per tag.")
    max_name_chars: int = Field(default=200, ge=1, le=10_000, description="Characters in an agent's name.")
    max_description_chars: int = Field(
        default=2000, ge=1, le=1_000_000, description="Characters in an agent's description."
    )
    max_system_chars: int = Field(
        default=100_000, ge=1, le=10_000_000, description="Characters in an agent's system prompt."
    )
    sessions_per_principal: int = Field(
        default=32, ge=1, le=100_000, description="Open Streamable HTTP sessions (legacy protocol) per principal."
    )
    sse_streams_per_principal: int = Field(
        default=8, ge=1, le=100_000, description="Open legacy SSE streams (GET /sse) per principal."
    )

    _lists = field_validator("allowed_models", mode="before")(_comma_list)


class LimitSettings(Limits):
    """`Limits` for every principal, and per-principal overrides under ``principals``."""

    principals: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Overrides by principal name ([limits.principals.<name>]), any of the settings above.",
    )

    @model_validator(mode="after")
    def _valid_overrides(self) -> LimitSettings:
        for name in self.principals:
            try:
                self.for_principal(name)
            except ValidationError as e:
                problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
                raise ValueError(f"principals.{name}: {problems}") from e
        return self

    def for_principal(self, name: str) -> Limits:
        """The limits that apply to principal ``name``: its overrides over the defaults."""
        base = self.model_dump(exclude={"principals"})
        return Limits.model_validate({**base, **self.principals.get(name, {})})

    def setting(self, principal: str, field: str) -> str:
        """The setting that decides ``field`` for ``principal``, as an operator writes it."""
        if field in self.principals.get(principal, {}):
            return f"limits.principals.{principal}.{field}"
        return f"limits.{field}"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(default_factory=default_data_dir, description="Holds letta.db (SQLite, WAL).")
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL for all state instead of <data_dir>/letta.db: 'postgresql://user:pass@host:5432/db'"
        " (the [postgres] extra). Several server replicas may share one.",
    )
    default_model: str = Field(default="openai/gpt-4o-mini", description="Model handle for new agents.")
    default_block_limit: int = Field(default=5000, ge=1, le=1_000_000, description="Character limit of new blocks.")
    max_steps: int = Field(default=50, ge=1, le=1000, description="LLM calls per turn for new agents.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="stderr log level.")
    context_windows: dict[str, int] = Field(
        default_factory=dict,
        description="Context window (tokens) by model handle or name, overriding the built-in table.",
    )
    compaction_trigger: float = Field(
        default=0.9, gt=0, le=1, description="Compact when the prompt exceeds this fraction of the window."
    )
    compaction_target: float = Field(
        default=0.7, gt=0, lt=1, description="Evict old messages until the prompt is under this fraction."
    )
    memory_warning: float = Field(
        default=0.75, gt=0, le=1, description="Warn the agent to save memories above this fraction."
    )
    summarizer_model: str | None = Field(
        default=None, description="Model handle that writes compaction summaries (None: the agent's model)."
    )
    summary_max_words: int = Field(default=300, ge=50, le=2000, description="Length cap of a compaction summary.")
    embedder: str = Field(
        default="none",
        description="Archival-memory embedder: 'none' (full-text search only), 'local' (the [local] extra) or "
        "'<provider>/<model>' of an OpenAI-compatible embeddings endpoint, e.g. 'openai/text-embedding-3-small'.",
    )
    embedding_batch_size: int = Field(default=64, ge=1, le=2048, description="Texts per embedding call.")
    embedding_dim: int | None = Field(
        default=None, ge=1, le=16384, description="Vector size of an endpoint model not in the built-in table."
    )
    archival_chunk_chars: int = Field(
        default=2000, ge=200, le=100_000, description="Longer archival inserts are split into passages of this size."
    )
    archival_context_passages: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Passages stored just before and after a passage that are indexed with it (0: none).",
    )
    archival_ann_threshold: int = Field(
        default=100_000, ge=1000, description="Vector rows from which an approximate (ANN) index is built."
    )
    lance_uri: str | None = Field(
        default=None, description="Where the LanceDB search index lives (None: <data_dir>/lance)."
    )
    lance_storage_options: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Object-store options of an s3:// lance_uri (aws_endpoint, aws_region, allow_http, "
        "aws_access_key_id, aws_secret_access_key, aws_session_token, …); they override the standard AWS_* "
        "variables.",
    )
    lease_ttl_s: float = Field(
        default=15.0,
        ge=1,
        le=600,
        description="Seconds after which a silent server process's turns stop blocking its agents.",
    )
    tool_groups: list[ToolGroup] = Field(
        default_factory=lambda: list(TOOL_GROUPS),
        description="MCP tool groups clients see (default: all): " + ", ".join(TOOL_GROUPS) + ".",
    )
    providers: dict[str, ProviderSettings] = Field(
        default_factory=lambda: {"openai": ProviderSettings()},
        description="OpenAI-compatible endpoints by name.",
    )
    http: HttpSettings = Field(default_factory=HttpSettings, description="The HTTP transports.")
    multi_agent: MultiAgentSettings = Field(
        default_factory=MultiAgentSettings, description="Agent-to-agent messaging limits."
    )
    auth: AuthSettings = Field(default_factory=AuthSettings, description="Authentication for the HTTP transports.")
    mcp_servers: dict[str, McpServerSettings] = Field(
        default_factory=dict, description="Other MCP servers whose tools agents may use, by name."
    )
    limits: LimitSettings = Field(
        default_factory=LimitSettings, description="Per-principal limits on agents, sessions and streams."
    )
    tasks: TaskSettings = Field(default_factory=TaskSettings, description="Long turns as MCP Tasks.")

    _lists = field_validator("tool_groups", mode="before")(_comma_list)

    @field_validator("mcp_servers")
    @classmethod
    def _server_names(cls, value: dict[str, McpServerSettings]) -> dict[str, McpServerSettings]:
        bad = [name for name in value if not _SERVER_NAME.match(name)]
        if bad:
            raise ValueError(f"server names {bad} must be 1-40 letters, digits, '_' or '-' (they appear in tool names)")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a 'postgresql://user:password@host:port/database' URL (or unset for SQLite)")
        return value

    @property
    def store_target(self) -> Path | str:
        """What `Store.open` opens: the PostgreSQL URL, or the SQLite file in the data directory."""
        return self.database_url or self.data_dir / "letta.db"

    @field_validator("lance_storage_options")
    @classmethod
    def _storage_option_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        # One name per option, so a file's `endpoint` overrides AWS_ENDPOINT_URL instead of meeting it.
        return {_STORAGE_OPTION_ALIASES.get(k.lower(), k.lower()): v for k, v in value.items()}

    @field_serializer("lance_storage_options", when_used="json")
    def _show_storage_options(self, value: dict[str, SecretStr]) -> dict[str, str]:
        # `letta-mcp config` shows the endpoint and region (what a person checks), never keys or tokens.
        return {k: str(v) if _SECRET_OPTION.search(k) else v.get_secret_value() for k, v in value.items()}

    @property
    def lance_target(self) -> str:
        """Where LanceDB keeps the search index: ``lance_uri``, or ``<data_dir>/lance``."""
        return self.lance_uri or str(self.data_dir / "lance")

    def lance_options(self) -> dict[str, str]:
        """The storage options LanceDB is opened with (plain values)."""
        return {k: v.get_secret_value() for k, v in self.lance_storage_options.items()}

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        # MCP clients pass env values verbatim (no shell), so "~/agents" must be expanded here.
        return value.expanduser()

    @field_validator("embedder")
    @classmethod
    def _embedder(cls, value: str) -> str:
        provider, sep, model = value.partition("/")
        if value not in ("none", "local") and not (provider and sep and model):
            raise ValueError("must be 'none', 'local' or 'provider/model', e.g. 'openai/text-embedding-3-small'")
        return value

    @field_validator("default_model")
    @classmethod
    def _handle(cls, value: str) -> str:
        if value == "client":  # lending the caller's model needs a sampling client: opt-in per agent only
            raise ValueError("cannot be 'client' (the MCP client's model is opt-in per agent); use 'provider/model'")
        provider, sep, model = value.partition("/")
        if not (provider and sep and model):
            raise ValueError("must be 'provider/model', e.g. 'openai/gpt-4o-mini'")
        return value

    @model_validator(mode="after")
    def _thresholds(self) -> Settings:
        if not self.compaction_target < self.compaction_trigger:
            raise ValueError("compaction_target must be lower than compaction_trigger")
        return self

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
    origins: dict[Loc, Origin] = {}  # where each value came from, for error messages
    path = config_file or env.get(f"{ENV_PREFIX}CONFIG")
    if path:
        file = Path(path).expanduser()
        try:
            table = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ConfigError(f"Config file not found: {file}") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"Config file {file} is not valid TOML: {e}") from e
        except OSError as e:
            raise ConfigError(f"Config file {file} could not be read: {e}") from e
        _merge(data, table)
        origins.update(file_origins(table, file))
    _merge(data, _from_environ(env, origins))
    _merge(data, {k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        settings = Settings.model_validate(data)
    except ValidationError as e:
        raise ConfigError(describe(e, origins, Settings, ENV_PREFIX)) from e
    _apply_provider_env(settings, env)
    _apply_storage_env(settings, env)
    return settings


def _from_environ(env: Mapping[str, str], origins: dict[Loc, Origin]) -> dict[str, Any]:
    """``LETTA_MCP_A__B=v`` → ``{"a": {"b": "v"}}`` (names lower-cased; pydantic coerces values);
    records each variable's name as typed in ``origins``."""
    out: dict[str, Any] = {}
    for key, value in env.items():
        # An empty value counts as unset (``LETTA_MCP_DATA_DIR=`` must not mean the current directory).
        if not key.startswith(ENV_PREFIX) or key == f"{ENV_PREFIX}CONFIG" or value == "":
            continue
        parts = key[len(ENV_PREFIX) :].lower().split("__")
        origins[tuple(parts)] = FromEnv(key)
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


def _apply_storage_env(settings: Settings, env: Mapping[str, str]) -> None:
    """The standard AWS_* variables other S3 tools read fill the storage options of an ``s3://``
    ``lance_uri`` that the configuration leaves unset."""
    if not (settings.lance_uri or "").startswith(("s3://", "s3a://", "s3+ddb://")):
        return
    for option, names in _STORAGE_ENV.items():
        value = next((env[name] for name in names if env.get(name)), None)
        if value is not None and option not in settings.lance_storage_options:
            settings.lance_storage_options[option] = SecretStr(value)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = dict(value) if isinstance(value, Mapping) else value
