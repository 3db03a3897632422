"""Health and readiness, for probes (`/healthz`, `/readyz`) and operators.

Health is whether what this process depends on answers: the database and the archival index's
storage (a local directory or an object store). Readiness is whether this process should be sent
work: the service is open (migrations applied, the turn lease heartbeating) and not closing.
Results name the checks only: error details (which may carry URLs) go to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio

from letta_mcp.service.base import ServiceBase

log = logging.getLogger(__name__)

# A probe answers within this even when a dependency hangs (an object store that stopped answering).
CHECK_TIMEOUT_S = 10.0


class HealthMixin(ServiceBase):
    # Set by `AgentService.open` once the turn lease runs (the schema was migrated before that),
    # cleared when `close` begins.
    _serving: bool = False

    async def check_health(self) -> dict[str, bool]:
        """Whether each dependency answered: ``database`` (one indexed read) and ``index`` (the
        archival index's storage; the first check connects to it, which imports LanceDB)."""
        checks: dict[str, Callable[[], Awaitable[object]]] = {"database": self._read_database}
        if self.archival is not None:
            checks["index"] = self.archival.memory.check_reachable
        results = {}
        for name, check in checks.items():
            try:
                with anyio.fail_after(CHECK_TIMEOUT_S):
                    await check()
                results[name] = True
            except Exception:
                log.exception("health check %r failed", name)
                results[name] = False
        return results

    @property
    def serving(self) -> bool:
        """Open (schema migrated, turn lease heartbeating) and not closing: ready to take work."""
        return self._serving

    async def _read_database(self) -> None:
        async with self.store.read() as q:
            await q.agents.exists("")
