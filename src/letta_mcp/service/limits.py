"""Per-principal limits on how an agent may be configured (the ``[limits]`` settings).

The acting principal's limits (``[limits]``, overridden by ``[limits.principals.<name>]``) bound
what a request asks for: the model, ``max_steps`` (of an agent or one turn), ``context_window``,
tags, and the lengths of name, description and system prompt. Values the operator chose (the
``max_steps`` setting for new agents) are not re-checked; the model always is, so a principal
held to some models cannot reach another through the default. Every refusal is a
`LimitExceededError` naming the limit, the value asked for, and the setting that decides it, and
comes before anything is written. HTTP sessions and SSE streams are limited in ``server/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import NoReturn

from letta_mcp.config import Limits, LimitSettings
from letta_mcp.service.access import current_principal
from letta_mcp.service.errors import LimitExceededError


@dataclass(frozen=True)
class AgentConfig:
    """The parts of an agent's configuration a request may set (None: not being set)."""

    model: str | None = None
    name: str | None = None
    description: str | None = None
    system: str | None = None
    tags: Sequence[str] | None = None
    max_steps: int | None = None
    context_window: int | None = None


class PrincipalLimits:
    """The limits of one principal, and how to say which setting a refusal comes from."""

    def __init__(self, settings: LimitSettings, principal: str) -> None:
        self.principal = principal
        self.values: Limits = settings.for_principal(principal)
        self._settings = settings

    @classmethod
    def current(cls, settings: LimitSettings) -> PrincipalLimits:
        """The limits of the principal the current request runs as."""
        return cls(settings, current_principal().name)

    def check_agent(self, config: AgentConfig) -> None:
        """Refuse ``config`` if any part of it is over this principal's limits."""
        v = self.values
        if config.model is not None:
            self.check_model(config.model)
        if config.max_steps is not None:
            self.check_steps(config.max_steps)
        if config.context_window is not None and config.context_window > v.context_window:
            self._refuse(
                "context_window",
                f"context_window {config.context_window} is above the limit of {v.context_window} tokens",
            )
        for field, limit, text in (
            ("max_name_chars", v.max_name_chars, config.name),
            ("max_description_chars", v.max_description_chars, config.description),
            ("max_system_chars", v.max_system_chars, config.system),
        ):
            if text is not None and len(text) > limit:
                what = field.removeprefix("max_").removesuffix("_chars")
                self._refuse(field, f"the {what} has {len(text)} characters, over the limit of {limit}")
        if config.tags is not None:
            tags = set(config.tags)
            if len(tags) > v.max_tags:
                self._refuse("max_tags", f"{len(tags)} tags given, over the limit of {v.max_tags}")
            longest = max(tags, key=len, default="")
            if len(longest) > v.max_tag_chars:
                self._refuse(
                    "max_tag_chars",
                    f"the tag {longest[:40]!r}{'…' if len(longest) > 40 else ''} has {len(longest)} characters, "
                    f"over the limit of {v.max_tag_chars}",
                )

    def check_steps(self, max_steps: int) -> None:
        if max_steps > self.values.max_steps:
            self._refuse("max_steps", f"max_steps {max_steps} is above the limit of {self.values.max_steps}")

    def check_model(self, model: str) -> None:
        allowed = self.values.allowed_models
        if allowed and not any(fnmatchcase(model, pattern) for pattern in allowed):
            self._refuse("allowed_models", f"model {model!r} is not allowed; allowed: {', '.join(allowed)}")

    def _refuse(self, field: str, problem: str) -> NoReturn:
        setting = self._settings.setting(self.principal, field)
        raise LimitExceededError(
            f"Limit exceeded for principal {self.principal!r}: {problem} (setting `{setting}`). "
            "Ask within the limit, or ask the server's operator to change the setting."
        )
