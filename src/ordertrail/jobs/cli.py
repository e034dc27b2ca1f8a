"""CLI: the worker, and ``ordertrail jobs list|retry|stats`` for the queue and dead letters."""

from __future__ import annotations

import importlib
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from ordertrail.config import Settings

app = typer.Typer(help="Durable jobs: list, retry dead jobs, stats.", no_args_is_help=True)


def _base() -> Any:
    from ordertrail import cli  # the root CLI owns sessions and error handling

    return cli


def worker(
    threads: Annotated[int, typer.Option(min=1, max=64, help="job threads (PostgreSQL; "
                                                             "SQLite runs one)")] = 1,
    once: Annotated[bool, typer.Option("--once", help="run everything due, then exit")] = False,
    lease: Annotated[float, typer.Option(min=1.0, help="seconds a claimed job is reserved; "
                                                       "a killed worker's jobs run again "
                                                       "after it")] = 60.0,
    modules: Annotated[list[str] | None, typer.Option(
        "--import", help="also import this module (more job kinds); repeat")] = None,
) -> None:
    """Run the worker: outbox consumers, jobs, periodic jobs and pumps, until stopped
    (SIGTERM or Ctrl-C finish the job at hand, then exit)."""
    import logging
    import signal
    import threading
    from datetime import timedelta

    from ordertrail.config import get_settings
    from ordertrail.db import make_sessionmaker
    from ordertrail.jobs.worker import Worker, drain
    from ordertrail.kit.clock import SystemClock

    base = _base()
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with base.friendly_errors():
        settings = get_settings()
        for module in modules or ():
            try:
                importlib.import_module(module)
            except ImportError as exc:
                base.fail(f"--import {module}: {exc}")
        engine = base._engine(settings)
        factory = make_sessionmaker(engine)
        if once:
            handled = drain(factory, SystemClock(), settings, max_rounds=1000)
            typer.echo(f"handled {handled} item(s)")
            engine.dispose()
            return
        stop = threading.Event()

        def _stop(_signum: int, _frame: object) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        w = Worker(factory, SystemClock(), settings, threads=threads,
                   lease=timedelta(seconds=lease))
        typer.echo(f"worker {w.worker_id} running on {engine.dialect.name} with "
                   f"{w.threads} job thread(s); stop with Ctrl-C or SIGTERM", err=True)
        w.run_forever(stop)
        typer.echo(f"worker {w.worker_id} stopped", err=True)
        engine.dispose()


def _short(text: str | None, width: int = 60) -> str:
    line = (text or "").strip().splitlines()[0] if text and text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


@app.command("list")
def list_jobs(
    state: Annotated[str | None, typer.Option(help="queued, running, done or dead")] = None,
    kind: Annotated[str | None, typer.Option(help="only jobs of this kind")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Jobs, newest first (--state dead lists the dead letters)."""
    from ordertrail.jobs import queue
    from ordertrail.jobs.schemas import JobRead

    base = _base()

    def run(session: Session, _s: Settings) -> None:
        rows = queue.list_jobs(session, state=state, kind=kind, limit=limit)
        if json_out:
            base._print_json([JobRead.of(r).model_dump(mode="json") for r in rows])
            return
        if not rows:
            typer.echo("no jobs")
            return
        for r in rows:
            typer.echo(f"{r.id:>8} {r.state:<8} {r.kind:<24} {r.attempts}/{r.max_attempts:<3} "
                       f"{r.run_at:%Y-%m-%d %H:%M:%S} {r.key or '-'}"
                       + (f"  {_short(r.last_error)}" if r.last_error else ""))

    base.with_session(run)


@app.command("retry")
def retry(
    job_id: Annotated[int | None, typer.Argument(help="the dead job's id")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="every dead job")] = False,
    kind: Annotated[str | None, typer.Option(help="with --all-dead: only this kind")] = None,
) -> None:
    """Put a dead job (or all of them) back in the queue with fresh attempts."""
    from ordertrail.jobs import queue
    from ordertrail.kit.clock import SystemClock

    base = _base()
    if (job_id is None) == (not all_dead):
        base.fail("give a job id or --all-dead (not both)")

    def run(session: Session, _s: Settings) -> None:
        now = SystemClock().now()
        if all_dead:
            typer.echo(f"{queue.retry_all_dead(session, now, kind)} dead job(s) queued again")
            return
        assert job_id is not None
        job = queue.retry(session, job_id, now)
        typer.echo(f"job {job.id} ({job.kind}) queued again")

    base.with_session(run)


@app.command("stats")
def stats(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Jobs by state and kind, what is due, and the outbox backlog."""
    from ordertrail.jobs import queue
    from ordertrail.kit.clock import SystemClock

    base = _base()

    def run(session: Session, _s: Settings) -> None:
        data = queue.stats(session, SystemClock().now())
        if json_out:
            base._print_json(data)
            return
        states = data["states"]
        typer.echo("jobs: " + ", ".join(f"{states[s]} {s}" for s in states))
        typer.echo(f"due now: {data['due']} (oldest waiting {data['oldest_due_seconds']:.0f} s)")
        typer.echo(f"outbox: {data['outbox_pending']} event(s) not dispatched (oldest "
                   f"{data['outbox_lag_seconds']:.0f} s)")
        for kind, counts in sorted(data["kinds"].items()):
            typer.echo(f"  {kind:<28} " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))

    base.with_session(run)
