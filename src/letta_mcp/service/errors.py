"""Errors raised by `AgentService` — the failures a caller can act on.

    ServiceError                 base; the message tells the caller what to do next
    ├── NotFoundError            unknown agent, block, template or run id
    ├── InvalidRequestError      arguments that are well-typed but not acceptable (nothing was written)
    │   └── LimitExceededError   over one of the acting principal's [limits] (the message names the setting)
    ├── ConflictError            the request clashes with existing state (a name already taken)
    ├── MemoryLimitError         a block edit would exceed the block's limit, or the block is read-only
    └── AgentUnavailableError    the agent's model could not be called; the input was kept

`server/` turns each into an MCP ``ToolError`` carrying the same message.
"""

from __future__ import annotations


class ServiceError(Exception):
    pass


class NotFoundError(ServiceError):
    pass


class InvalidRequestError(ServiceError):
    pass


class LimitExceededError(InvalidRequestError):
    pass


class ConflictError(ServiceError):
    pass


class MemoryLimitError(ServiceError):
    pass


class AgentUnavailableError(ServiceError):
    """The turn could not run to a reply because of the model; ``run_id`` identifies the run."""

    def __init__(self, message: str, *, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id
