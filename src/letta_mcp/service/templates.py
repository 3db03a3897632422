"""Templates: an agent's configuration saved under a name, to create agents from."""

from __future__ import annotations

from letta_mcp.models import (
    BlockSpec,
    Template,
    new_id,
    utcnow,
)
from letta_mcp.service.access import current_principal
from letta_mcp.service.base import ServiceBase
from letta_mcp.service.changes import Change
from letta_mcp.service.errors import (
    ConflictError,
    InvalidRequestError,
)
from letta_mcp.store import errors as store_errors


class TemplatesMixin(ServiceBase):
    async def create_template(
        self,
        name: str,
        *,
        agent_id: str | None = None,
        description: str | None = None,
    ) -> Template:
        """Save an agent's configuration (system, blocks, tools, model, tags) under ``name``."""
        if not agent_id:
            raise InvalidRequestError("agent_id is required: the template copies that agent's configuration.")
        details = await self.get_agent(agent_id)
        agent = details.agent
        template = Template(
            id=new_id("template"),
            name=name,
            description=description or agent.description,
            system=agent.system,
            model=agent.model,
            tools=agent.tools,
            tags=agent.tags,
            blocks=[BlockSpec.model_validate(b, from_attributes=True) for b in details.blocks],
            max_steps=agent.max_steps,
            owner=current_principal().name,
            created_at=utcnow(),
        )
        try:
            async with self.store.write() as q:
                await q.templates.insert(template)
        except store_errors.ConflictError as e:
            raise ConflictError(f"{e} Choose another name, or call list_templates to see existing ones.") from e
        await self.changes.emit(Change(template.owner, templates=True))
        return template

    async def list_templates(self) -> list[Template]:
        async with self.store.read() as q:
            return await q.templates.list(owner=current_principal().owner_filter)
