"""Turning service errors into MCP errors the calling model can read and act on."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError

from letta_mcp.service import NotFoundError, ServiceError

P = ParamSpec("P")
R = TypeVar("R")


def tool_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Re-raise `ServiceError` as `ToolError` (``is_error`` result with our message, not a sanitized one)."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except ServiceError as e:
            raise ToolError(str(e)) from e

    return wrapper


def resource_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Unknown ids in resource URIs become ``ResourceNotFoundError`` (-32602) with our message."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except NotFoundError as e:
            raise ResourceNotFoundError(str(e)) from e

    return wrapper
