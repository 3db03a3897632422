"""The ``client`` model: an agent that thinks with the calling MCP client's own model.

The provider knows nothing of MCP (this floor may not import it). The server binds, for the
duration of one request, a `ClientModel` saying how to sample the caller's model (or why it
cannot); the run's task inherits the binding because asyncio copies the context into the task
it starts for the turn. Outside such a request (background runs, other agents' turns) nothing is
bound and the call fails with a clear error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from letta_mcp.llm.errors import LLMConfigurationError, LLMServerError
from letta_mcp.llm.tokens import estimate_message, estimate_request
from letta_mcp.models import ChatMessage, ModelRequest, ModelResponse, Role, Usage

CLIENT_HANDLE = "client"

Sampler = Callable[[ModelRequest], Awaitable[ModelResponse]]


class ClientModelError(LLMServerError):
    """The client's model failed to answer (what a `Sampler` raises)."""

    retryable = False  # the client (often its user) refused: asking again the same way will not help


@dataclass(frozen=True)
class ClientModel:
    """How the current request's client lends its model: ``sample``, or ``unavailable`` (why not)."""

    sample: Sampler | None
    unavailable: str = ""


_NOT_BOUND = (
    "This agent thinks with the calling MCP client's model (model 'client'), so it can only think "
    "during a send_message, approve_run or compact_context call from a client that supports sampling."
)
_current: ContextVar[ClientModel | None] = ContextVar("letta_mcp_client_model", default=None)


@contextmanager
def lending(model: ClientModel) -> Iterator[None]:
    """Bind ``model`` for the code (and the tasks it starts) inside the block."""
    token = _current.set(model)
    try:
        yield
    finally:
        _current.reset(token)


def require_client_model() -> Sampler:
    """The bound sampler; raises `LLMConfigurationError` saying why there is none."""
    model = _current.get()
    if model is None:
        raise LLMConfigurationError(_NOT_BOUND)
    if model.sample is None:
        raise LLMConfigurationError(model.unavailable or _NOT_BOUND)
    return model.sample


class ClientModelProvider:
    """The provider registered under the handle ``client``."""

    async def complete(self, request: ModelRequest) -> ModelResponse:
        response = await require_client_model()(request)
        # Sampling reports no token counts: report our estimate, so calibration stays neutral.
        prompt = estimate_request(request)
        completion = estimate_message(
            ChatMessage(role=Role.assistant, content=response.content, tool_calls=response.tool_calls)
        )
        usage = Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
        return response.model_copy(update={"usage": usage})

    async def aclose(self) -> None:
        return None
