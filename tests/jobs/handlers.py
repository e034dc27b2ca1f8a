"""Job kinds the jobs tests run. ``register()`` adds them, ``unregister()`` removes them; the
worker subprocess of the kill test imports ``tests.jobs.registered``, which registers them."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from ordertrail.context import Ctx
from ordertrail.jobs import registry

META = MetaData()
# Non-unique on purpose: a job committed twice shows up as two rows.
EFFECTS = Table("job_test_effects", META,
                Column("id", Integer, primary_key=True, autoincrement=True),
                Column("job_key", String(64), nullable=False),
                Column("pid", Integer, nullable=False))
# The same with a unique key (the concurrency test: a second commit would fail loudly).
UNIQUE_EFFECTS = Table("job_test_unique_effects", META,
                       Column("job_key", String(64), primary_key=True))

EXECUTIONS: Counter[str] = Counter()  # handler calls in this process, by payload key
_lock = threading.Lock()
KINDS = ("test.record", "test.unique", "test.flaky")


def _count(key: str) -> int:
    with _lock:
        EXECUTIONS[key] += 1
        return EXECUTIONS[key]


def record(ctx: Ctx, payload: dict[str, Any]) -> None:
    """Insert one effect row; sleep a little if asked (a slow-ish job)."""
    _count(payload["key"])
    ctx.session.execute(insert(EFFECTS).values(job_key=payload["key"], pid=os.getpid()))
    if payload.get("sleep"):
        time.sleep(float(payload["sleep"]))


def unique(ctx: Ctx, payload: dict[str, Any]) -> None:
    _count(payload["key"])
    ctx.session.execute(insert(UNIQUE_EFFECTS).values(job_key=payload["key"]))


def flaky(ctx: Ctx, payload: dict[str, Any]) -> None:
    """Fail the first ``fail`` calls (after writing, to show the write is rolled back)."""
    calls = _count(payload["key"])
    ctx.session.execute(insert(EFFECTS).values(job_key=payload["key"], pid=os.getpid()))
    if calls <= int(payload.get("fail", 0)):
        raise RuntimeError(f"boom {calls}")


def register() -> None:
    registry.job("test.record", max_attempts=5)(record)
    registry.job("test.unique", max_attempts=5)(unique)
    registry.job("test.flaky", max_attempts=3)(flaky)


def unregister() -> None:
    for kind in KINDS:
        registry.REGISTRY.jobs.pop(kind, None)
        registry.REGISTRY.periodic.pop(kind, None)
    EXECUTIONS.clear()
