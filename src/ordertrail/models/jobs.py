"""Durable jobs: the job queue, periodic schedules."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ordertrail.models.base import Base, id_column


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


class Job(Base):
    """One unit of work: queued until ``run_at``, running under a lease, then done or dead.

    While a job runs, ``run_at`` mirrors ``lease_until``: the claim index then also finds
    jobs whose worker died (running, ``run_at`` passed).
    """

    __tablename__ = "jobs"
    __table_args__ = (
        # The claim query: state = ? AND run_at <= now ORDER BY run_at, id.
        Index("ix_jobs_claim", "state", "run_at", "id"),
        # A key names one unfinished job: a second enqueue of it is a no-op.
        Index("uq_jobs_open_key", "key", unique=True,
              sqlite_where=text("state IN ('queued', 'running')"),
              postgresql_where=text("state IN ('queued', 'running')")),
    )

    id: Mapped[int] = id_column()
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))
    run_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class JobSchedule(Base):
    """When a periodic job is due next; claimed with a conditional update."""

    __tablename__ = "job_schedules"

    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_run_at: Mapped[datetime]
    last_run_at: Mapped[datetime | None]
