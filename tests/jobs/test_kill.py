"""`ordertrail worker` as a real process, killed with SIGKILL in the middle of a backlog and
started again: every job completes, and none completes twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ordertrail import migrate
from ordertrail.db import make_engine, make_sessionmaker, write_session
from ordertrail.jobs import queue
from ordertrail.kit.clock import SystemClock
from ordertrail.models.jobs import Job
from tests.conftest import fresh_database
from tests.jobs import handlers

SCRIPT = str(Path(sys.executable).with_name("ordertrail"))
ROOT = Path(__file__).resolve().parents[2]
JOBS = 400


def _counts(factory) -> tuple[dict[str, int], int]:
    with factory() as s:
        # Only the test's jobs: other domains' periodic jobs run in the worker too.
        states = dict(s.execute(select(Job.state, func.count())
                                .where(Job.kind == "test.record").group_by(Job.state)).all())
        effects = s.scalar(select(func.count()).select_from(handlers.EFFECTS)) or 0
    return states, effects


def _wait(proc: subprocess.Popen[bytes], log: Path, ready, what: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if ready():
            return
        if proc.poll() is not None:
            pytest.fail(f"the worker exited with {proc.returncode} before {what}:\n"
                        f"{log.read_text(errors='replace')}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"no {what} in time:\n{log.read_text(errors='replace')}")


def test_a_killed_worker_loses_nothing_and_completes_nothing_twice(tmp_path):
    with fresh_database(tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            handlers.META.create_all(engine)
            factory = make_sessionmaker(engine)
            with write_session(factory) as s:
                queue.enqueue_many(s, [("test.record", {"key": f"k{i}", "sleep": 0.01},
                                        None, 5) for i in range(JOBS)], SystemClock().now())
            env = {**os.environ, "ORDERTRAIL_DATABASE_URL": url, "PYTHONPATH": str(ROOT),
                   "NO_COLOR": "1"}
            cmd = [SCRIPT, "worker", "--import", "tests.jobs.registered", "--lease", "2"]

            log1 = tmp_path / "worker1.log"
            with log1.open("wb") as out:
                first = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=out,
                                         stderr=subprocess.STDOUT)
            # Kill it while it holds claimed jobs (a batch in progress), a quarter in.
            _wait(first, log1, lambda: _counts(factory)[1] >= JOBS // 4
                  and _counts(factory)[0].get("running", 0) > 0, "a quarter done")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
            states, effects = _counts(factory)
            assert states.get("done", 0) < JOBS, "the backlog was too small to kill mid-way"
            assert states.get("done", 0) == effects  # committed with their completion

            log2 = tmp_path / "worker2.log"
            with log2.open("wb") as out:
                second = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=out,
                                          stderr=subprocess.STDOUT)
            _wait(second, log2, lambda: _counts(factory)[0] == {"done": JOBS}, "all done")
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0, log2.read_text(errors="replace")
            assert "stopped" in log2.read_text(errors="replace")

            with factory() as s:
                per_job = s.execute(select(handlers.EFFECTS.c.job_key, func.count())
                                    .group_by(handlers.EFFECTS.c.job_key)).all()
                pids = set(s.scalars(select(handlers.EFFECTS.c.pid).distinct()))
            assert len(per_job) == JOBS  # none lost
            assert {n for _key, n in per_job} == {1}  # none completed twice
            assert pids == {first.pid, second.pid}
        finally:
            engine.dispose()
