"""What every figure shares: the figure record, scratch databases, the server subprocess."""

from __future__ import annotations

import os
import platform
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

from ordertrail import migrate
from ordertrail.auth import service as auth
from ordertrail.db import make_engine, make_sessionmaker, write_session
from ordertrail.errors import NotFound
from ordertrail.flow import service as flows
from ordertrail.flow.planner import Actor
from ordertrail.kit.clock import SystemClock


def log(message: str) -> None:
    """Progress for people, on stderr; stdout carries only the JSON figures."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Figure:
    """One measured figure and the baseline it is compared with, from the same run."""

    name: str
    database: str
    value: float
    unit: str
    baseline: float
    baseline_of: str
    target: str
    ok: bool | None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "database": self.database, "value": round(self.value, 3),
            "unit": self.unit, "baseline": round(self.baseline, 3),
            "ratio": round(self.ratio, 4), "baseline_of": self.baseline_of,
            "target": self.target, "ok": self.ok, "detail": self.detail,
        }


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 1 000 samples is the 990th smallest)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.4999)))
    return ordered[rank - 1]


def latency_summary(samples: Sequence[float]) -> dict[str, float]:
    return {"samples": len(samples), "p50": round(percentile(samples, 50), 3),
            "p90": round(percentile(samples, 90), 3), "p99": round(percentile(samples, 99), 3),
            "max": round(max(samples), 3) if samples else 0.0}


def host_info() -> dict[str, Any]:
    """The machine the figures were measured on."""
    cpu, ram_gib = platform.processor() or "unknown", 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": ram_gib,
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "loadavg_1m": load, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


# Databases ------------------------------------------------------------------------------


def with_search_path(url: str, schema: str) -> str:
    """A PostgreSQL URL whose connections use ``schema`` (so user data is never touched)."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@contextmanager
def scratch_database(kind: str, workdir: Path, pg_url: str | None, name: str) -> Iterator[str]:
    """A new, empty database URL that is removed afterwards (a SQLite file or a PG schema)."""
    if kind == "sqlite":
        path = workdir / f"{name}.db"
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    assert pg_url is not None
    schema = f"ot_bench_{name}_{secrets.token_hex(3)}"
    admin = make_engine(pg_url, pool_size=1, max_overflow=0)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        yield with_search_path(pg_url, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def prepare(url: str) -> Engine:
    """Migrate a database and install the built-in flows; returns an engine on it."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    with write_session(make_sessionmaker(engine)) as session:
        flows.ensure_builtin_flows(session, SystemClock())
    return engine


def user_with_key(engine: Engine, name: str, roles: list[str]) -> tuple[Actor, str]:
    """Get or create a user and give it a new API key; returns its actor and the key."""
    clock = SystemClock()
    with write_session(make_sessionmaker(engine)) as session:
        try:
            user = auth.get_user(session, name)
        except NotFound:
            user = auth.create_user(session, name, roles, clock)
        key = auth.create_api_key(session, user, clock, label="ordertrail bench")[1]
        return auth.actor_of(user), key


# The server under test -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time a process has used (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    port: int
    pid: int
    log_path: Path


@contextmanager
def serve(url: str, workdir: Path, label: str) -> Iterator[Server]:
    """``ordertrail serve`` as a subprocess on a free loopback port; stopped afterwards."""
    port = free_port()
    log_path = workdir / f"server-{label}.log"
    env = {**os.environ, "ORDERTRAIL_DATABASE_URL": url}
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from ordertrail.cli import main; main()", "serve",
             "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"ordertrail serve exited with {proc.returncode}: {tail}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"ordertrail serve did not answer on port {port} in 120 s")
            time.sleep(0.1)
        yield Server(port=port, pid=proc.pid, log_path=log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
