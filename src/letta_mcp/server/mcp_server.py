"""`MCPServer` with our tool surface: clean descriptions, operator-chosen groups, lean schemas, and
argument errors a model can act on.

Each override is of a public `MCPServer` method (`add_tool`, which the ``@tool`` decorator calls;
`list_tools`, which answers ``tools/list``; `call_tool`, which ``tools/call`` goes through), so no
SDK internals are touched. tests/server/test_mcp_surface.py pins each behaviour through a client.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, Icon, InputRequiredResult, ToolAnnotations
from mcp.types import Tool as MCPTool
from pydantic import ValidationError

from letta_mcp.server.arguments import describe as describe_arguments
from letta_mcp.server.listing import clean_description, lean_input_schema, lean_output_schema


class LettaMCPServer(MCPServer):
    def __init__(self, *args: Any, tool_groups: Collection[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._enabled_groups = frozenset(tool_groups)
        self._group: str | None = None

    @contextmanager
    def tool_group(self, name: str) -> Iterator[None]:
        """Tools added inside belong to group ``name``; they are left out unless it is enabled."""
        self._group = name
        try:
            yield
        finally:
            self._group = None

    def add_tool(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: ToolAnnotations | None = None,
        icons: list[Icon] | None = None,
        meta: dict[str, Any] | None = None,
        structured_output: bool | None = None,
    ) -> None:
        if self._group is None:
            raise RuntimeError("add tools inside `with server.tool_group(name):` so the operator can turn them off")
        if self._group not in self._enabled_groups:
            return
        description = clean_description(description or fn.__doc__ or "")
        super().add_tool(fn, name, title, description, annotations, icons, meta, structured_output)

    async def list_tools(self) -> list[MCPTool]:
        return [
            tool.model_copy(
                update={
                    "input_schema": lean_input_schema(tool.input_schema),
                    "output_schema": tool.output_schema and lean_output_schema(tool.output_schema),
                }
            )
            for tool in await super().list_tools()
        ]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            # The SDK raises a ToolError caused by the ValidationError when the arguments do not
            # fit the input schema (a crash inside the tool is an UnexpectedToolError instead).
            if isinstance(exc, UnexpectedToolError) or not isinstance(exc.__cause__, ValidationError):
                raise
            # The full schema: the listing leaves out bounds that the message must still name.
            schema = next(t.input_schema for t in await super().list_tools() if t.name == name)
            raise ToolError(describe_arguments(name, exc.__cause__, schema)) from exc.__cause__
