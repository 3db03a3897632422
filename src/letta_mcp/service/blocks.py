"""Blocks as objects of their own: standalone blocks shared by several agents, history and undo.

A block attached to several agents is one row: an edit by any of them (or by a client) is in every
attached agent's system message from its next step on, and every attached agent's memory
subscribers hear of it. Edits never lose each other: each one is applied inside its write
transaction to the block's *current* value (transactions are serialized across processes), so an
agent's `memory_replace` whose old text another agent just changed fails with Letta's "not found"
message, which the model reads and acts on, instead of overwriting the other edit.

Every change is a new version in ``block_history`` (who: ``agent:<id>`` with its run, or
``principal:<name>``); `undo_block` restores an earlier value as a new version, never rewriting
history.
"""

from __future__ import annotations

from dataclasses import dataclass

from letta_mcp.models import Block, BlockHistoryEntry, BlockSpec, utcnow
from letta_mcp.runtime.block_edits import READ_ONLY_ERROR, MemoryEditError
from letta_mcp.runtime.blocks import create_block, save_block
from letta_mcp.runtime.system_message import refresh_system_message
from letta_mcp.service.access import current_principal
from letta_mcp.service.base import ServiceBase
from letta_mcp.service.changes import Change
from letta_mcp.service.errors import ConflictError, InvalidRequestError, MemoryLimitError, NotFoundError
from letta_mcp.service.specs import check_blocks, new_block

MAX_PAGE = 200


@dataclass(frozen=True)
class SharedBlock:
    block: Block
    agent_ids: list[str]  # the agents it is attached to (those the caller may see)


class BlocksMixin(ServiceBase):
    async def create_block(
        self,
        label: str,
        *,
        value: str = "",
        limit: int | None = None,
        description: str | None = None,
        read_only: bool = False,
    ) -> Block:
        """A standalone block owned by the caller, to attach to any of the caller's agents."""
        spec = BlockSpec(label=label, value=value, limit=limit, description=description, read_only=read_only)
        check_blocks([spec])
        block = new_block(spec, utcnow(), self.settings.default_block_limit).model_copy(
            update={"owner": current_principal().name, "standalone": True}
        )
        async with self.store.write() as q:
            await create_block(q, None, block, actor=_client(), reason="create_block")
        return block

    async def list_blocks(self, *, label: str | None = None, limit: int = 50, offset: int = 0) -> list[SharedBlock]:
        """The caller's blocks (every principal's for full access), oldest first, with their agents."""
        _check_page(limit)
        async with self.store.read() as q:
            blocks = await q.blocks.owned(
                owner=current_principal().owner_filter, label=label, limit=limit, offset=offset
            )
            attached = await q.blocks.attachments([b.id for b in blocks])
            visible = await self._visible_agents(q, {a for ids in attached.values() for a in ids})
        return [SharedBlock(b, [a for a in attached[b.id] if a in visible]) for b in blocks]

    async def attach_block(self, agent_id: str, block_id: str) -> Block:
        """Attach one of the caller's blocks to one of the caller's agents, under the block's label."""
        async with self.store.read() as q:  # ownership first: a busy agent of another principal stays unknown
            await self._require_agent(q, agent_id)
            await self._require_block(q, block_id)
        async with self.runs.lease.hold(agent_id), self.store.write() as q:
            agent = await self._require_agent(q, agent_id)
            block = await self._require_block(q, block_id)
            taken = await q.blocks.by_label(agent_id, block.label)
            if taken is not None:
                hint = "it is already attached" if taken.id == block.id else f"detach its block {taken.id} first"
                raise ConflictError(f"Agent {agent_id!r} already has a block labelled {block.label!r}: {hint}.")
            await q.blocks.link(agent_id, block)
            await refresh_system_message(q, agent, utcnow())
        await self.changes.emit(Change(agent.owner, agent_id, blocks=(block.label,)))
        return block

    async def detach_block(self, agent_id: str, label: str) -> Block:
        """Detach the agent's block ``label``. The block itself is kept (as a standalone block of its
        owner, listed by list_blocks) even when no agent uses it any more: nothing is lost."""
        async with self.store.read() as q:
            await self._require_agent(q, agent_id)
        async with self.runs.lease.hold(agent_id), self.store.write() as q:
            agent, block = await self._agent_block(q, agent_id, label)
            await q.blocks.unlink(agent_id, block.id)
            if not block.standalone:
                block = block.model_copy(update={"standalone": True})
                await q.blocks.update(block)
            await refresh_system_message(q, agent, utcnow())
        await self.changes.emit(Change(agent.owner, agent_id, blocks=(label,)))
        return block

    async def delete_block(self, block_id: str, *, force: bool = False) -> list[str]:
        """Delete a block; refused while agents use it unless ``force`` (then it is detached from
        them first). Returns the ids of the agents it was detached from."""
        async with self.store.write() as q:
            block = await self._require_block(q, block_id)
            agent_ids = await q.blocks.attached_agents(block_id)
            shown = sorted(await self._visible_agents(q, set(agent_ids)))  # others' agents stay unnamed
            if agent_ids and not force:
                raise ConflictError(
                    f"Block {block_id!r} is attached to {len(agent_ids)} agent(s) ({', '.join(shown) or 'not yours'}). "
                    "Detach it first, or pass force=true to detach it from all of them and delete it."
                )
            await q.blocks.delete(block_id)
            owners = {}
            for agent_id in agent_ids:
                agent = await q.agents.get(agent_id)
                if agent is not None:
                    await refresh_system_message(q, agent, utcnow())
                    owners[agent_id] = agent.owner
        for agent_id, owner in owners.items():
            await self.changes.emit(Change(owner, agent_id, blocks=(block.label,)))
        return shown

    async def block_history(
        self, agent_id: str, label: str, *, limit: int = 20, before_version: int | None = None
    ) -> list[BlockHistoryEntry]:
        """Recorded versions of the agent's block ``label``, newest first."""
        _check_page(limit)
        async with self.store.read() as q:
            _, block = await self._agent_block(q, agent_id, label)
            return await q.blocks.history(block.id, limit=limit, before_version=before_version)

    async def undo_block(self, agent_id: str, label: str, *, version: int | None = None) -> Block:
        """Restore the value the block had at ``version`` (default: the version before the current
        one) as a new version. The block's current limit still applies; read-only blocks refuse."""
        async with self.store.read() as q:
            await self._require_agent(q, agent_id)
        async with self.runs.lease.hold(agent_id), self.store.write() as q:
            _, block = await self._agent_block(q, agent_id, label)
            target = block.version - 1 if version is None else version
            if not 1 <= target < block.version:
                raise InvalidRequestError(
                    f"Block {label!r} is at version {block.version}; give a version between 1 and "
                    f"{block.version - 1} (block_history lists them)."
                    if block.version > 1
                    else f"Block {label!r} has never changed since it was made: there is nothing to undo."
                )
            old = await q.blocks.version(block.id, target)
            if old is None:
                raise NotFoundError(f"Version {target} of block {label!r} is not recorded; call block_history.")
            if block.read_only:
                raise MemoryLimitError(
                    f"{READ_ONLY_ERROR} Unlock it first with update_block(read_only=false), then undo."
                )
            try:
                updated = await save_block(
                    q, block, {"value": old.value}, actor=_client(), reason=f"undo_block to version {target}"
                )
            except MemoryEditError as e:
                raise MemoryLimitError(f"{e} Raise the block's limit with update_block first.") from e
            changes = await self._block_changes(q, updated)
        for change in changes:
            await self.changes.emit(change)
        return updated

    @staticmethod
    async def _visible_agents(q, agent_ids: set[str]) -> set[str]:
        """Those of ``agent_ids`` the acting principal may see."""
        principal = current_principal()
        if principal.full_access:
            return agent_ids
        agents = [await q.agents.get(agent_id) for agent_id in agent_ids]
        return {a.id for a in agents if a is not None and principal.may_see(a.owner)}

    async def _require_block(self, q, block_id: str) -> Block:
        block = await q.blocks.get(block_id)
        if block is None or not current_principal().may_see(block.owner or ""):
            raise NotFoundError(f"No block with id {block_id!r}. Call list_blocks to see your blocks.")
        return block


def _client() -> str:
    return f"principal:{current_principal().name}"


def _check_page(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequestError(f"limit must be between 1 and {MAX_PAGE}; got {limit}.")
