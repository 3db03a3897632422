"""The service floor: the use-cases, usable as a plain Python library.

Everything above this package (server/, cli.py, tests, benchmarks) imports from here, never from
the modules inside it. One `AgentService` per process, created at process start::

    service = await AgentService.open(load_settings())
    agent = await service.create_agent(name="sam")
    result = await service.send_message(agent.agent.id, "My name is Sarah")
    await service.close()

Modules: core.py (assembly, open/close), one module per concern (agents, conversation, memory,
context, templates, runs, archival, browse, remote_tools), specs.py (validating agent and block specs), errors.py (the
errors a caller can act on), run_tasks.py (runs seen as MCP tasks), changes.py (the committed-change
feed) and change_relay.py (carrying it between processes), health.py (probes), access.py (who is
acting).
"""

from letta_mcp.llm.client_model import CLIENT_HANDLE, ClientModel, ClientModelError, lending
from letta_mcp.runtime import TurnResult
from letta_mcp.runtime.context import ContextOverview
from letta_mcp.runtime.loop import unanswered_calls
from letta_mcp.runtime.remote_tools import RemoteTool
from letta_mcp.service.access import LOCAL, Principal, acting_as, current_principal
from letta_mcp.service.agent_files import ImportedAgent, ImportResult
from letta_mcp.service.agents import AgentDetails
from letta_mcp.service.archival import ArchivalService
from letta_mcp.service.browse import AgentPage, AgentSummary
from letta_mcp.service.changes import Change, ChangeFeed, ChangeListener
from letta_mcp.service.core import AgentService, build_providers
from letta_mcp.service.errors import (
    AgentUnavailableError,
    ConflictError,
    InvalidRequestError,
    MemoryLimitError,
    NotFoundError,
    ServiceError,
)
from letta_mcp.service.memory import MemoryView
from letta_mcp.service.remote_tools import RemoteToolListing
from letta_mcp.service.run_tasks import RunProgress
from letta_mcp.service.runs import RunDetails

__all__ = [
    "CLIENT_HANDLE",
    "LOCAL",
    "AgentDetails",
    "AgentPage",
    "AgentService",
    "AgentSummary",
    "AgentUnavailableError",
    "ArchivalService",
    "Change",
    "ChangeFeed",
    "ChangeListener",
    "ClientModel",
    "ClientModelError",
    "ConflictError",
    "ContextOverview",
    "ImportResult",
    "ImportedAgent",
    "InvalidRequestError",
    "MemoryLimitError",
    "MemoryView",
    "NotFoundError",
    "Principal",
    "RemoteTool",
    "RemoteToolListing",
    "RunDetails",
    "RunProgress",
    "ServiceError",
    "TurnResult",
    "acting_as",
    "build_providers",
    "current_principal",
    "lending",
    "unanswered_calls",
]
