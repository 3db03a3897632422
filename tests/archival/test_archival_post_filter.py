"""Archives holding most of the passages are searched unfiltered, then filtered (`PostFilter`); the
results must be exactly the prefiltered ones, also when other archives' rows outrank all of theirs."""

from __future__ import annotations

import anyio
import pytest

from letta_mcp.models import NewPassage
from letta_mcp.runtime.archival import POST_FILTER_SHARE
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio


async def test_a_big_archive_finds_its_own_rows_when_others_outrank_them(service: AgentService) -> None:
    assert service.archival is not None
    big = (await service.create_agent(name="big")).agent.id
    small = (await service.create_agent(name="small")).agent.id
    with anyio.fail_after(60):
        # The small archive's rows say "apple" three times, so they fill the top of an unfiltered search.
        await service.archival.insert_many(big, [NewPassage(text=f"apple note {i}") for i in range(200)])
        await service.archival.insert_many(small, [NewPassage(text=f"apple apple apple {i}") for i in range(150)])
        async with service.store.read() as q:
            share = await q.archival.share_of(await q.archival.archive_ids_for_agent(big))
        big_hits = await service.archival.search(big, "apple", top_k=10)
        small_hits = await service.archival.search(small, "apple", top_k=10)
        numbered = await service.archival.search(big, "apple note 123", top_k=1)

    assert share >= POST_FILTER_SHARE  # so the big archive takes the post-filter path
    assert len(big_hits) == 10 and all(h.passage.text.startswith("apple note") for h in big_hits)
    assert len(small_hits) == 10 and all(h.passage.text.startswith("apple apple") for h in small_hits)
    assert [h.passage.text for h in numbered] == ["apple note 123"]
