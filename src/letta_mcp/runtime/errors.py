"""Errors the runtime raises for input its caller must fix; nothing was written when one is raised.

Each message is written for whoever made the request to read and act on: the agent's model (an
agent tool turns it into a failed tool result, verbatim) or the service's caller (the service
re-raises it in its own `letta_mcp.service.errors` tree).

    RuntimeToolError          base: catch this to report any of them
    ├── MemoryEditError       a memory-block edit was refused (Letta's texts)
    ├── ArchivalError         archival input to fix (empty text, too many tags, a bad top_k …)
    │   └── ArchiveReadOnlyError   a write to an archive shared read-only with the agent
    └── ToolFailure           any other agent-tool failure (unknown block, bad date …)
"""

from __future__ import annotations


class RuntimeToolError(Exception):
    """Input the caller must fix; ``str(error)`` says what to change."""


class MemoryEditError(RuntimeToolError):
    """A memory edit was refused; ``str(error)`` is the message the agent should read."""


class ArchivalError(RuntimeToolError):
    """Archival input the caller must fix; nothing was written."""


class ArchiveReadOnlyError(ArchivalError):
    """The archive is shared with the agent read-only: it may search it, not add to or delete from it."""


class ToolFailure(RuntimeToolError):
    """An agent tool failed in a way the model can correct; reported to it verbatim."""
