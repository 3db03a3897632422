"""Archives shared read-only: the agent's own archival_memory_insert never writes into one."""

from __future__ import annotations

import anyio
import pytest

from letta_mcp.llm.scripted import ScriptedProvider, call, reply
from letta_mcp.service import AgentService, InvalidRequestError

pytestmark = pytest.mark.anyio


async def test_agent_insert_goes_to_its_own_archive_never_a_read_only_shared_one(
    service: AgentService, scripted: ScriptedProvider
) -> None:
    assert service.archival is not None
    with anyio.fail_after(20):
        owner = (await service.create_agent(name="owner")).agent.id
        reader = (await service.create_agent(name="reader", tools=["archival_memory_insert"])).agent.id
        (fact,) = await service.archival.insert(owner, "The library opens at nine.")
        shared = await service.archival.share(owner, reader)
        scripted.add(call("archival_memory_insert", {"content": "The reader's own note."}), reply("Saved."))
        await service.send_message(reader, "note this")
        own, other = await service.archival.archives(reader)
        assert other.id == shared.id and own.id != shared.id
        assert [p.text for p in (await service.archival.list(owner)).passages] == ["The library opens at nine."]
        assert {p.text for p in (await service.archival.list(reader)).passages} == {
            "The reader's own note.",
            "The library opens at nine.",
        }
        with pytest.raises(InvalidRequestError, match="read-only"):
            await service.archival.delete(reader, fact.id)
        with pytest.raises(InvalidRequestError, match="read-only"):
            await service.archival.insert(reader, "sneaky", archive_id=shared.id)
        await service.archival.share(owner, reader, writable=True)
        await service.archival.delete(reader, fact.id)
        assert (await service.archival.list(owner)).passages == []
