"""HTTP API: durable jobs (admins and managers): list, stats, retry a dead job."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from ordertrail.api.deps import Reader, Writer, reader, writer
from ordertrail.context import Ctx
from ordertrail.errors import Forbidden
from ordertrail.flow.planner import Actor
from ordertrail.jobs import queue
from ordertrail.jobs.schemas import JobList, JobRead, JobStats
from ordertrail.models.jobs import JobState

router = APIRouter(prefix="/api/v1", tags=["jobs"])
ROLES = ("admin", "manager")
PROBLEMS = {
    401: {"description": "Missing or unknown API key"},
    403: {"description": "Only admins and managers see jobs"},
    404: {"description": "Unknown job"},
    409: {"description": "The job is not dead, or its key is queued again"},
    422: {"description": "Invalid parameter"},
}


def _allowed(actor: Actor) -> None:
    if not set(ROLES) & actor.roles:
        raise Forbidden(f"jobs are for {' and '.join(ROLES)}s", code="role_not_allowed")


@router.get("/jobs", response_model=JobList, responses=PROBLEMS)
async def list_jobs(state: Annotated[JobState | None, Query()] = None,
                    kind: Annotated[str | None, Query(max_length=64)] = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
                    r: Reader = Depends(reader)) -> Response:
    """Jobs, newest first; ``state=dead`` lists the dead letters."""
    _allowed(r.actor)
    return await r.run(lambda ctx: JobList(items=[
        JobRead.of(j) for j in queue.list_jobs(ctx.session, state=state.value if state else None,
                                               kind=kind, limit=limit)]))


@router.get("/jobs/stats", response_model=JobStats, responses=PROBLEMS)
async def job_stats(r: Reader = Depends(reader)) -> Response:
    """Jobs by state and kind, how many are due, and the outbox backlog."""
    _allowed(r.actor)
    return await r.run(lambda ctx: JobStats(**queue.stats(ctx.session, ctx.clock.now())))


@router.post("/jobs/{job_id}/retry", response_model=JobRead, responses=PROBLEMS)
async def retry_job(job_id: Annotated[int, Path(ge=1)], w: Writer = Depends(writer)) -> Response:
    """Put a dead job back in the queue with fresh attempts."""
    _allowed(w.actor)

    def run(ctx: Ctx) -> JobRead:
        return JobRead.of(queue.retry(ctx.session, job_id, ctx.clock.now()))

    return await w.arun(run)
