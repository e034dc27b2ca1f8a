"""`ordertrail jobs …` and `ordertrail worker --once` as real processes; the jobs HTTP API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import update

from ordertrail import migrate
from ordertrail.db import make_engine, make_sessionmaker, write_session
from ordertrail.jobs import queue
from ordertrail.kit.clock import SystemClock
from ordertrail.models.jobs import Job
from tests.conftest import fresh_database
from tests.jobs import handlers

SCRIPT = str(Path(sys.executable).with_name("ordertrail"))
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory):
    directory = tmp_path_factory.mktemp("jobs_cli")
    with fresh_database(directory) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        handlers.META.create_all(engine)
        factory = make_sessionmaker(engine)
        env = {**os.environ, "ORDERTRAIL_DATABASE_URL": url, "PYTHONPATH": str(ROOT),
               "NO_COLOR": "1", "COLUMNS": "200"}

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([SCRIPT, *args], env=env, cwd=directory, text=True,
                                  capture_output=True, timeout=120, check=False)

        yield factory, run
        engine.dispose()


def test_jobs_commands(cli_db):
    factory, run = cli_db
    now = SystemClock().now()
    with write_session(factory) as s:
        dead = queue.enqueue(s, "test.record", {"key": "c1"}, now=now, key="cli:1")
        queue.enqueue(s, "test.record", {"key": "c2"}, now=now)
        s.execute(update(Job).where(Job.id == dead).values(
            state="dead", attempts=5, last_error="RuntimeError: carrier said no\nmore"))

    listed = run("jobs", "list", "--state", "dead")
    assert listed.returncode == 0, listed.stderr
    assert f"{dead:>8} dead" in listed.stdout
    assert "RuntimeError: carrier said no" in listed.stdout and "more" not in listed.stdout
    stats = run("jobs", "stats")
    assert "1 queued" in stats.stdout and "1 dead" in stats.stdout, stats.stdout

    retried = run("jobs", "retry", str(dead))
    assert (retried.returncode, retried.stdout.strip()) == (0, f"job {dead} (test.record) "
                                                               "queued again")
    again = run("jobs", "retry", str(dead))
    assert again.returncode == 1
    assert again.stderr.strip() == (f"error: job {dead} is queued; only dead jobs can be "
                                    "retried")
    for args, message in (
            (("jobs", "retry"), "error: give a job id or --all-dead (not both)"),
            (("jobs", "retry", "999999"), "error: no job 999999"),
            (("jobs", "list", "--state", "lost"), "error: unknown job state 'lost'; use one "
                                                  "of queued, running, done, dead")):
        bad = run(*args)
        assert (bad.returncode, bad.stderr.strip()) == (1, message), args
        assert "Traceback" not in bad.stderr

    once = run("worker", "--once", "--import", "tests.jobs.registered")
    assert once.returncode == 0, once.stderr
    assert "handled" in once.stdout
    assert run("jobs", "list", "--state", "queued", "--kind", "test.record").stdout.strip() \
        == "no jobs"
    assert run("jobs", "retry", "--all-dead").stdout.strip() == "0 dead job(s) queued again"


def test_worker_refuses_an_unknown_module(cli_db):
    _factory, run = cli_db
    bad = run("worker", "--once", "--import", "no.such.module")
    assert (bad.returncode, bad.stderr.strip()) == (
        1, "error: --import no.such.module: No module named 'no'")


# HTTP API -------------------------------------------------------------------------------------


def test_admins_and_managers_see_jobs_and_retry_dead_ones(client, people, factory, clock):
    with write_session(factory) as s:
        dead = queue.enqueue(s, "webhook.deliver", {"id": 7}, now=clock.now())
        live = queue.enqueue(s, "webhook.deliver", {"id": 8}, now=clock.now())
        s.execute(update(Job).where(Job.id == dead).values(state="dead", attempts=12,
                                                           last_error="HTTP 500"))
    r = client.get("/api/v1/jobs?state=dead", headers=people.headers("root"))
    assert r.status_code == 200
    [item] = r.json()["items"]
    assert (item["id"], item["state"], item["last_error"]) == (dead, "dead", "HTTP 500")
    r = client.get("/api/v1/jobs/stats", headers=people.headers("grace"))
    assert r.status_code == 200
    assert r.json()["kinds"] == {"webhook.deliver": {"dead": 1, "queued": 1}}

    r = client.post(f"/api/v1/jobs/{dead}/retry", headers=people.headers("grace"))
    assert r.status_code == 200
    assert (r.json()["state"], r.json()["attempts"]) == ("queued", 0)
    r = client.post(f"/api/v1/jobs/{live}/retry", headers=people.headers("grace"))
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "job_not_dead"
    r = client.post("/api/v1/jobs/999999/retry", headers=people.headers("root"))
    assert (r.status_code, r.json()["code"]) == (404, "job_not_found")


def test_the_jobs_api_refuses_other_roles_and_bad_input(client, people):
    r = client.get("/api/v1/jobs", headers=people.headers("alice"))
    assert (r.status_code, r.json()["code"]) == (403, "role_not_allowed")
    assert r.headers["content-type"].startswith("application/problem+json")
    r = client.post("/api/v1/jobs/1/retry", headers=people.headers("wang"))
    assert r.status_code == 403
    for query in ("state=lost", "limit=0", "limit=5000"):
        r = client.get(f"/api/v1/jobs?{query}", headers=people.headers("root"))
        assert r.status_code == 422, query
        assert r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/jobs").status_code == 401
