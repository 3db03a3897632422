"""A throwaway PostgreSQL cluster for the tests: Debian's `postgresql` binaries, a temp directory,
a free loopback port and a Unix socket in the same directory. Nothing of the system's own
PostgreSQL service is used or touched.

As a script (for `.ci/run`): ``python tests/postgres_cluster.py start DIR`` prints the cluster's URL
once it accepts connections; ``python tests/postgres_cluster.py stop DIR`` stops it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

USER = "letta"
DATABASE = "letta"


def bindir() -> Path:
    """Where initdb and pg_ctl are: on PATH, or Debian's versioned directory."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if not versions:
        raise RuntimeError(
            "PostgreSQL is not installed: `apt-get install -y postgresql` (the tests start a throwaway cluster "
            "with its initdb/pg_ctl; no running service is needed)"
        )
    return Path(versions[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(argv: list[str]) -> list[str]:
    # initdb refuses to run as root: run the cluster as the `postgres` system user then.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def start(base: Path) -> str:
    """Create and start a cluster under ``base``; returns its ``postgresql://`` URL."""
    bins = bindir()
    base.mkdir(parents=True, exist_ok=True)
    data = base / "data"
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
    port = _free_port()
    subprocess.run(
        _as_owner([str(bins / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"]),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    # Durability off: a test cluster is thrown away (fsync costs seconds per test on a busy disk).
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
    options += " -c full_page_writes=off -c max_connections=300"
    subprocess.run(
        _as_owner([str(bins / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"]),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    url = f"postgresql://{USER}@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + 30
    while subprocess.run(
        [str(bins / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
    ).returncode:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the test PostgreSQL cluster did not start: see {base / 'log'}")
        time.sleep(0.1)
    subprocess.run(
        [str(bins / "psql"), url, "-q", "-c", f"CREATE DATABASE {DATABASE}"]
        if (bins / "psql").exists()
        else ["psql", url, "-q", "-c", f"CREATE DATABASE {DATABASE}"],
        check=True,
    )
    return f"postgresql://{USER}@127.0.0.1:{port}/{DATABASE}"


def stop(base: Path) -> None:
    subprocess.run(
        _as_owner([str(bindir() / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate", "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
    )


if __name__ == "__main__":
    command, where = sys.argv[1], Path(sys.argv[2])
    if command == "start":
        print(start(where))
    else:
        stop(where)
