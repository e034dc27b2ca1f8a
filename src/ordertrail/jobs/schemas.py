"""Jobs as the API and the CLI show them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from ordertrail.models.jobs import Job


class JobRead(BaseModel):
    id: int
    kind: str
    key: str | None
    payload: dict[str, Any]
    state: str
    run_at: datetime
    attempts: int
    max_attempts: int
    lease_owner: str | None
    lease_until: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobRead:
        return cls.model_validate(job, from_attributes=True)


class JobList(BaseModel):
    items: list[JobRead]


class JobStats(BaseModel):
    states: dict[str, int]
    kinds: dict[str, dict[str, int]]
    due: int
    oldest_due_seconds: float
    outbox_pending: int
    outbox_lag_seconds: float
