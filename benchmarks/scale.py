"""Scale-out: messages/s with 1, 2, 3 replicas behind a round-robin proxy, and what one message costs
on PostgreSQL next to SQLite.

    python benchmarks/scale.py            # 30 agents × 2 lanes × 5 messages per replica count
    python benchmarks/scale.py --quick    # seconds; CI runs this so it cannot rot

Everything is a real process on the real path: ``letta-mcp serve --transport streamable-http``
replicas sharing one store (a throwaway PostgreSQL cluster from `tests/postgres_cluster.py`, or one
SQLite data directory), `rr_proxy.py` in front of them as its own process, the instant model
(`instant_openai.py`) behind the real ``openai`` client, and MCP clients (2026-07-28: no session,
so any replica answers any request) in this process.

Per engine, replicas are started one by one. With the first one alone:

- **overhead**: messages one after another to one agent, then 10 agents in parallel (`e2e.py`'s
  runs), sent to the replica directly; p50/p95 and CPU per message of the server and of the
  database's processes (on PostgreSQL part of the store's work moves into its backends).

Then, with 1, 2, 3 replicas running:

- **throughput**: ``agents`` new agents, each sent ``lanes × per_lane`` messages through the proxy
  by ``lanes`` concurrent senders (so several turns of one agent are in flight at once); messages/s,
  p50/p95 as the client sees them, and each agent's history read back: every message answered
  exactly once, turns whole and one after another, each sender's messages in the order it sent
  them. CPU seconds per process group from /proc (replicas, the PostgreSQL cluster's processes,
  the proxy, the model, the clients) and the whole machine's busy time from /proc/stat over the
  same wall time, with the 1-minute load average at start and end: on a small shared machine the
  bound is the CPUs, and these say whose. On PostgreSQL also the one write lock every replica's
  write transactions take (`WriteLockSampler`): how much of the time it is held, and the queue in
  front of it. Ratios n/1 of messages/s per engine.

Every message must be answered and every history in order; the exit status is 1 otherwise. Prints
one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
from bench_common import machine, p95
from e2e import create_agent, http_client, http_server, instant_model, parallel_agents, send, sequential
from instant_openai import REPLY
from mcp import Client
from rr_proxy import proxy_process

from letta_mcp.config import HttpSettings

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the throwaway cluster the tests start (and .ci/run)

import postgres_cluster  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
ENGINES = ("postgres", "sqlite")
T = TypeVar("T")
SATURATED_GAIN = 1.1  # one more replica adding less than 10 % messages/s: saturated


# --- CPU time from /proc -------------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, float, float]]:
    """pid → (parent pid, its own CPU seconds, CPU seconds of its children already reaped)."""
    table: dict[int, tuple[int, float, float]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended while we looked
            continue
        own = (int(fields[11]) + int(fields[12])) / TICK
        table[int(entry.name)] = (int(fields[1]), own, (int(fields[13]) + int(fields[14])) / TICK)
    return table


def _tree_cpu_s(table: dict[int, tuple[int, float, float]], pid: int) -> float:
    """CPU seconds of ``pid`` and all its descendants, living or reaped (PostgreSQL's backends come and go)."""
    if pid not in table:
        return 0.0
    _, own, reaped = table[pid]
    return own + reaped + sum(_tree_cpu_s(table, child) for child, (parent, *_) in table.items() if parent == pid)


def _machine_busy_s() -> float:
    """CPU seconds all processes of the machine have used (every core), from /proc/stat."""
    # user nice system idle iowait irq softirq steal: all but idle and iowait is busy
    times = [int(x) for x in Path("/proc/stat").read_text().split()[1:9]]
    return (sum(times) - times[3] - times[4]) / TICK


def child_pid(script: str) -> int:
    """The pid of this process's child running ``script``."""
    for pid, (parent, *_) in _processes().items():
        if parent == os.getpid() and script in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
            return pid
    raise RuntimeError(f"no child process runs {script}")


class Meter:
    """CPU seconds per process group (each a list of process trees) and of this process (the clients)."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups

    def read(self) -> dict[str, float]:
        table = _processes()
        sample = {name: sum(_tree_cpu_s(table, pid) for pid in pids) for name, pids in self.groups.items()}
        sample["clients"] = table[os.getpid()][1]
        sample["machine"] = _machine_busy_s()
        sample["wall"] = time.monotonic()
        return sample


def cpu_figures(before: dict[str, float], after: dict[str, float], messages: int) -> dict[str, Any]:
    """CPU per group over a run: seconds, ms per message, cores kept busy (ours and the whole
    machine's), and the messages/s that CPU alone allows on this machine's cores were they ours:
    all our processes together on every core, and the replicas, each one event loop on one core."""
    spent = {name: after[name] - before[name] for name in before if name not in ("machine", "wall")}
    wall = after["wall"] - before["wall"]
    ours = sum(spent.values())
    replicas = [name for name in spent if name.startswith("replica")]
    replica_s = sum(spent[name] for name in replicas)
    return {
        "cpu_s": {name: round(s, 2) for name, s in spent.items()},
        "cpu_ms_per_message": {name: round(s * 1000 / messages, 2) for name, s in spent.items()},
        "cores_busy_ours": round(ours / wall, 2),
        "cores_busy_machine": round((after["machine"] - before["machine"]) / wall, 2),
        "cpu_ceiling_msgs_per_s": {
            "all_cores": round(messages * (os.cpu_count() or 1) / ours, 1) if ours else None,
            "replica_cores": round(messages * len(replicas) / replica_s, 1) if replica_s else None,
        },
    }


def load_1m() -> float:
    return round(os.getloadavg()[0], 2)


def progress(what: str) -> None:
    """A line on stderr (stdout carries the report), so a long run shows where it is."""
    print(f"{time.strftime('%H:%M:%S')} load {load_1m():5.2f}  {what}", file=sys.stderr, flush=True)


# --- the store -----------------------------------------------------------------------------------


@contextmanager
def store(engine: str, root: Path) -> Iterator[tuple[dict[str, str], list[int]]]:
    """Settings that point replicas at ``engine``, and the pids of the database's own processes."""
    if engine == "sqlite":  # the data directory's letta.db, the default
        yield {}, []
        return
    # Not under a root-private directory: the cluster runs as the `postgres` user when we are root.
    base = Path(tempfile.mkdtemp(prefix="letta-scale-pg-"))
    try:
        url = postgres_cluster.start(base)
        postmaster = int((base / "data" / "postmaster.pid").read_text().split()[0])
        yield {"LETTA_MCP_DATABASE_URL": url}, [postmaster]
    finally:
        postgres_cluster.stop(base)
        shutil.rmtree(base, ignore_errors=True)


def replica_settings() -> dict[str, str]:
    """Stateless HTTP with one shared request-state key, where this version has the setting; the
    2026-07-28 clients used here keep no session either way."""
    if "stateless" not in HttpSettings.model_fields:
        return {}
    return {"LETTA_MCP_HTTP__STATELESS": "true", "LETTA_MCP_HTTP__REQUEST_STATE_KEY": secrets.token_hex(32)}


class WriteLockSampler:
    """How busy the one write lock all replicas take turns on is (PostgreSQL; see `store.postgres`):
    ``pg_locks`` read every ``SAMPLE_S`` on a connection of our own. The share of samples with the
    lock held is its utilisation (near 1: writers are serialized on it), and the mean count of
    backends waiting for it is the queue in front of it. Does nothing without a URL (SQLite)."""

    # The key `PostgresEngine.open` derives; pg_locks shows a bigint advisory key as two oids.
    QUERY = """
        SELECT count(*) FILTER (WHERE granted) AS held, count(*) FILTER (WHERE NOT granted) AS waiting
        FROM pg_locks
        WHERE locktype = 'advisory' AND objsubid = 1
          AND ((classid::bigint << 32) | objid::bigint)
              = hashtextextended(current_database() || '/' || current_schema() || '/letta-mcp', 0)
    """
    SAMPLE_S = 0.02

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.samples: list[tuple[int, int]] = []

    async def run(self) -> None:
        """Sample until cancelled."""
        if self.url is None:
            return
        import asyncpg

        conn = await asyncpg.connect(self.url)
        try:
            while True:
                row = await conn.fetchrow(self.QUERY)
                self.samples.append((row["held"], row["waiting"]))
                await anyio.sleep(self.SAMPLE_S)
        finally:
            with anyio.CancelScope(shield=True):
                await conn.close()

    async def watch(self, run: Awaitable[T]) -> T:
        """``run``'s result, sampling while it runs (the samples of this run only)."""
        self.samples = []
        async with anyio.create_task_group() as watching:
            watching.start_soon(self.run)
            result = await run
            watching.cancel_scope.cancel()
        return result

    def figures(self, seconds: float, messages: int) -> dict[str, Any]:
        """Utilisation, queue, and the lock time per message that utilisation implies."""
        if not self.samples:
            return {}
        n = len(self.samples)
        held = sum(1 for held, _ in self.samples if held) / n
        return {
            "write_lock": {
                "samples": n,
                "held_share": round(held, 3),
                "held_ms_per_message": round(held * seconds * 1000 / messages, 1),
                "mean_waiting": round(sum(waiting for _, waiting in self.samples) / n, 2),
            }
        }


# --- the runs ------------------------------------------------------------------------------------


async def overhead(url: str, meter: Meter, lock: WriteLockSampler, args: argparse.Namespace) -> dict[str, Any]:
    """One replica alone: sequential messages to one agent, then ``parallel_agents`` agents at once."""
    [server_pid] = meter.groups["replica1"]
    report: dict[str, Any] = {"load_1m": {"start": load_1m()}}
    before = meter.read()
    async with http_client(url) as client:
        report["sequential"] = await lock.watch(sequential(client, args.messages, server_pid))
    after, messages = meter.read(), args.messages + 1  # + its warm-up message
    report["sequential"] |= cpu_figures(before, after, messages) | lock.figures(
        after["wall"] - before["wall"], messages
    )
    before = meter.read()
    report["parallel"] = await lock.watch(parallel_agents(url, args.parallel_agents, args.per_agent))
    parallel = report["parallel"]
    parallel |= cpu_figures(before, meter.read(), parallel["messages"])
    parallel |= lock.figures(parallel["seconds"], parallel["messages"])
    report["load_1m"]["end"] = load_1m()
    return report


async def _history(client: Client, agent_id: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    cursor: int | None = None
    while True:
        arguments: dict[str, Any] = {"agent_id": agent_id, "limit": 200, "order": "asc"}
        if cursor is not None:
            arguments["after"] = cursor
        result = await client.call_tool("list_messages", arguments)
        if result.is_error or result.structured_content is None:
            raise RuntimeError(f"list_messages failed: {result.content}")
        messages += result.structured_content["messages"]
        cursor = result.structured_content["next_cursor"]
        if cursor is None:
            return messages


def order_problems(history: list[dict[str, Any]], lanes: int, per_lane: int) -> list[str]:
    """What is wrong with one agent's history (empty when every message ``i`` of ``send`` was
    answered once, turns are whole and one after another, and each lane's messages kept its order)."""
    turns = [m for m in history if m["message_type"] in ("user_message", "assistant_message")]
    kinds = [m["message_type"] for m in turns]
    if kinds != ["user_message", "assistant_message"] * (len(turns) // 2) or len(turns) % 2:
        return [f"not one reply per message: {kinds}"]
    if any(m["content"] != REPLY for m in turns[1::2]):
        return ["a reply is not the model's"]
    sent = [int(m["content"].split(":", 1)[0].removeprefix("Message ")) for m in turns[0::2]]
    problems = []
    if sorted(sent) != list(range(lanes * per_lane)):
        problems.append(f"messages not each answered once: {sent}")
    for lane in range(lanes):
        mine = [i for i in sent if i // per_lane == lane]
        if mine != sorted(mine):
            problems.append(f"lane {lane} out of order: {mine}")
    runs = [m["run_id"] for m in history if m["message_type"] != "system_message"]
    if runs != sorted(runs, key=runs.index):
        problems.append("turns interleaved")
    return problems


async def warm_up(url: str) -> None:
    """One untimed message: a process's first turn imports openai and builds its client (~1 s, once)."""
    async with http_client(url) as client:
        await send(client, await create_agent(client, "warm-up"), 0, [])


async def throughput(
    url: str, replicas: int, meter: Meter, lock: WriteLockSampler, args: argparse.Namespace
) -> dict[str, Any]:
    """``agents`` agents × ``lanes`` concurrent senders × ``per_lane`` messages through the proxy at ``url``."""
    times: list[float] = []
    errors: list[str] = []
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(http_client(url)) for _ in range(args.agents)]
        ids = [await create_agent(client, f"scale-{k}") for k, client in enumerate(clients)]

        async def lane(client: Client, agent_id: str, lane: int) -> None:
            for n in range(args.per_lane):
                i = lane * args.per_lane + n
                try:
                    times.append(await send(client, agent_id, i, errors))
                except Exception as exc:  # a dropped request is a result to report, not the end of the run
                    errors.append(f"{agent_id} message {i}: {exc!r}")

        load_start, before = load_1m(), meter.read()

        async def all_lanes() -> None:
            async with anyio.create_task_group() as tg:
                for client, agent_id in zip(clients, ids, strict=True):
                    for k in range(args.lanes):
                        tg.start_soon(lane, client, agent_id, k)

        await lock.watch(all_lanes())
        after, load_end = meter.read(), load_1m()
        problems = [
            f"{a}: {p}" for a in ids for p in order_problems(await _history(clients[0], a), args.lanes, args.per_lane)
        ]
    total = args.agents * args.lanes * args.per_lane
    seconds = after["wall"] - before["wall"]
    return (
        {
            "replicas": replicas,
            "agents": args.agents,
            "in_flight": args.agents * args.lanes,
            "messages": total,
            "answered": total - len(errors),
            "error_samples": errors[:3],
            "histories_in_order": not problems,
            "order_problems": problems[:3],
            "seconds": round(seconds, 3),
            "msgs_per_s": round(total / seconds, 1),
            "p50_ms": round(statistics.median(times), 1) if times else None,
            "p95_ms": round(p95(times), 1) if times else None,
            "load_1m": {"start": load_start, "end": load_end},
        }
        | cpu_figures(before, after, total)
        | lock.figures(seconds, total)
    )


def scaling(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """messages/s of n replicas over one, and the replica count past which another adds < 10 %."""
    rates = {run["replicas"]: run["msgs_per_s"] for run in runs}
    counts = sorted(rates)
    saturated = next((a for a, b in itertools.pairwise(counts) if rates[b] < SATURATED_GAIN * rates[a]), None)
    return {
        "msgs_per_s": {str(n): rates[n] for n in counts},
        "ratio_to_1": {str(n): round(rates[n] / rates[1], 2) for n in counts if 1 in rates},
        "saturates_at_replicas": saturated,
    }


async def run_engine(
    engine: str, root: Path, model_url: str, model_pid: int, args: argparse.Namespace
) -> dict[str, Any]:
    settings = replica_settings()
    report: dict[str, Any] = {"stateless_http": bool(settings), "overhead": {}, "throughput": []}
    progress(f"{engine}: starting the store")
    counts = args.sqlite_replicas if engine == "sqlite" else args.replicas
    with store(engine, root / engine) as (store_env, database_pids), ExitStack() as stack:
        database_url = store_env.get("LETTA_MCP_DATABASE_URL")
        servers: list[tuple[str, int]] = []
        for count in range(1, max(counts) + 1):
            progress(f"{engine}: starting replica {count}")
            servers.append(stack.enter_context(http_server(root / engine / "data", model_url, store_env | settings)))
            await warm_up(servers[-1][0])
            groups = {f"replica{n}": [pid] for n, (_, pid) in enumerate(servers, 1)}
            groups |= {"database": database_pids, "model": [model_pid]}
            if count == 1:
                progress(f"{engine}: overhead, one replica")
                lock = WriteLockSampler(database_url)
                report["overhead"] = await overhead(servers[0][0], Meter(groups), lock, args)
            if count in counts:
                progress(f"{engine}: throughput, {count} replica(s)")
                replica_urls = [url.removesuffix("/mcp") for url, _ in servers]
                with proxy_process(replica_urls) as (proxy_url, proxy_pid):
                    meter = Meter(groups | {"proxy": [proxy_pid]})
                    lock = WriteLockSampler(database_url)
                    report["throughput"].append(await throughput(f"{proxy_url}/mcp", count, meter, lock, args))
    report["scaling"] = scaling(report["throughput"])
    return report


async def main(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {
        "benchmark": "scale",
        "quick": args.quick,
        "date_utc": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
        "machine": machine(),
        "load_1m": {"start": load_1m()},
        "engines": {},
    }
    with instant_model() as model_url, tempfile.TemporaryDirectory(prefix="letta-scale-") as tmp:
        model_pid = child_pid("instant_openai.py")
        for engine in args.engines:
            report["engines"][engine] = await run_engine(engine, Path(tmp), model_url, model_pid, args)
    report["load_1m"]["end"] = load_1m()
    return report


def all_answered_in_order(report: dict[str, Any]) -> bool:
    for engine in report["engines"].values():
        overhead_runs = [engine["overhead"]["sequential"], engine["overhead"]["parallel"]]
        if any(run["answered"] != run["messages"] for run in [*overhead_runs, *engine["throughput"]]):
            return False
        if not all(run["histories_in_order"] for run in engine["throughput"]):
            return False
    return True


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: postgres, sqlite")
    parser.add_argument("--replicas", default="1,2,3", help="comma-separated replica counts to time throughput at")
    parser.add_argument("--sqlite-replicas", help="replica counts on SQLite (default: --replicas)")
    parser.add_argument("--agents", type=int, default=30, help="agents in each throughput run")
    parser.add_argument("--lanes", type=int, default=2, help="concurrent senders per agent")
    parser.add_argument("--per-lane", type=int, default=5, help="messages each sender sends, one after another")
    parser.add_argument("--messages", type=int, default=300, help="overhead: sequential messages to one agent (≥ 50)")
    parser.add_argument("--parallel-agents", type=int, default=10, help="overhead: agents sent to in parallel")
    parser.add_argument("--per-agent", type=int, default=20, help="overhead: messages per parallel agent")
    parser.add_argument("--quick", action="store_true", help="small counts; 1 and 2 replicas, 1 on SQLite (CI)")
    args = parser.parse_args(argv)
    if args.quick:
        args.replicas, args.sqlite_replicas, args.agents, args.per_lane = "1,2", "1", 4, 2
        args.messages, args.parallel_agents, args.per_agent = 50, 4, 2
    args.engines = args.engines.split(",")
    args.sqlite_replicas = sorted({int(n) for n in (args.sqlite_replicas or args.replicas).split(",")})
    args.replicas = sorted({int(n) for n in args.replicas.split(",")})
    if not set(args.engines) <= set(ENGINES) or min(args.replicas + args.sqlite_replicas) < 1 or args.messages < 50:
        parser.error("--engines is a subset of postgres,sqlite; --replicas counts are ≥ 1; --messages ≥ 50")
    return args


if __name__ == "__main__":
    arguments = parse()
    result = anyio.run(main, arguments)
    print(json.dumps(result, indent=2))
    sys.exit(0 if all_answered_in_order(result) else 1)
