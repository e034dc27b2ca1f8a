"""HTTP API: Alerts and deadlines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from ordertrail.api.deps import Reader, Writer, reader, writer
from ordertrail.context import Ctx
from ordertrail.sla import alerts, read
from ordertrail.sla.schemas import AlertAssign, AlertNote, AlertPage, AlertRead, OrderDeadlines

router = APIRouter(prefix="/api/v1", tags=["alerts"])
PROBLEMS = {
    401: {"description": "Missing or unknown API key"},
    403: {"description": "Your role may not act on this alert"},
    404: {"description": "Unknown alert, order or user"},
    409: {"description": "The alert is already resolved"},
    422: {"description": "Invalid filter or field"},
}
AlertId = Annotated[int, Path(ge=1)]


@router.get("/alerts", response_model=AlertPage, responses=PROBLEMS)
async def list_alerts(
    r: Reader = Depends(reader),
    order_no: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(description="open, acknowledged, resolved, "
                                                   "auto_resolved")] = None,
    kind: Annotated[str | None, Query(description="stage_at_risk, stage_overdue, …")] = None,
    role: Annotated[str | None, Query(max_length=32, description="responsible role")] = None,
    mine: Annotated[bool, Query(description="only alerts you answer for")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """The alert inbox, newest first."""
    return await r.run(lambda ctx: read.alert_page(ctx, order_no=order_no, state=state,
                                                   kind=kind, role=role, mine=mine,
                                                   limit=limit, cursor=cursor))


@router.get("/alerts/{alert_id}", response_model=AlertRead, responses=PROBLEMS)
async def get_alert(alert_id: AlertId, r: Reader = Depends(reader)) -> Response:
    """One alert with its escalation state."""
    return await r.run(lambda ctx: read.alert_read(ctx, alerts.get_alert(ctx.session,
                                                                         alert_id)))


@router.post("/alerts/{alert_id}/ack", response_model=AlertRead, responses=PROBLEMS)
async def ack_alert(alert_id: AlertId, body: AlertNote | None = None,
                    w: Writer = Depends(writer)) -> Response:
    """Acknowledge: you are on it, escalation stops."""
    note = body.note if body else None
    return await w.arun(lambda ctx: read.alert_read(ctx, alerts.acknowledge(ctx, alert_id,
                                                                            note)))


@router.post("/alerts/{alert_id}/resolve", response_model=AlertRead, responses=PROBLEMS)
async def resolve_alert(alert_id: AlertId, body: AlertNote | None = None,
                        w: Writer = Depends(writer)) -> Response:
    """Close the alert, with an optional note."""
    note = body.note if body else None
    return await w.arun(lambda ctx: read.alert_read(ctx, alerts.resolve(ctx, alert_id, note)))


@router.post("/alerts/{alert_id}/assign", response_model=AlertRead, responses=PROBLEMS)
async def assign_alert(alert_id: AlertId, body: AlertAssign,
                       w: Writer = Depends(writer)) -> Response:
    """Make a user responsible for the alert (its level-1 recipient)."""

    def run(ctx: Ctx) -> AlertRead:
        return read.alert_read(ctx, alerts.assign(ctx, alert_id, body.user))

    return await w.arun(run)


@router.get("/orders/{order_no}/deadlines", response_model=OrderDeadlines, responses=PROBLEMS)
async def order_deadlines(order_no: Annotated[str, Path(max_length=64)],
                          r: Reader = Depends(reader)) -> Response:
    """The order's stage visits with due and warning times, outcome and variance."""
    return await r.run(lambda ctx: read.order_deadlines(ctx, order_no))
