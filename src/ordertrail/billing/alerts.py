"""billing: the sweep step that opens and auto-resolves `payment_overdue` alerts.

An invoice is issued with ``overdue_alert_state = 'pending'`` and its stored ``due_at`` (the
end of the due day). The step claims unpaid invoices whose due time has passed with one
conditional UPDATE … RETURNING (``pending → raised``; on PostgreSQL the candidates are picked
``FOR UPDATE SKIP LOCKED``), so several sweepers never open the same alert twice, and a sweep
after downtime catches up. One alert per invoice (cause ``payment_overdue:invoice:<id>``), for
the finance role. Paying or voiding the invoice clears the state and resolves the alert in the
same transaction (billing/service.py); the step resolves any that were left behind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, literal_column, select, update
from sqlalchemy.orm import Session

from ordertrail.config import Settings
from ordertrail.models.alert import Alert
from ordertrail.models.billing import Invoice
from ordertrail.sla import alerts
from ordertrail.sla.claims import Orders, picked, skip_locked
from ordertrail.sla.sweep import SweepResult

KIND = "payment_overdue"
PREFIX = f"{KIND}:invoice:"
ROLE = "finance"

_I = Invoice.__table__
_A = Alert.__table__
_PENDING = literal_column("'pending'")
_COLS = (_I.c.id, _I.c.order_id, _I.c.number, _I.c.due_at, _I.c.amount, _I.c.paid_amount,
         _I.c.currency)


def claim_overdue(session: Session, now: datetime, limit: int) -> tuple[list[Row[Any]], bool]:
    """Claim up to ``limit`` unpaid invoices past due; (claimed rows, more are due)."""
    due = (_I.c.overdue_alert_state == _PENDING, _I.c.due_at <= now)
    pick = skip_locked(session, select(_I.c.id).where(*due).order_by(_I.c.due_at)
                       .limit(limit))
    stmt = (update(_I).where(picked(session, _I.c.id, pick), _I.c.overdue_alert_state == _PENDING)
            .values(overdue_alert_state="raised").returning(*_COLS))
    conn = session.connection()
    rows = list(conn.execute(stmt).all())
    more = len(rows) >= limit and conn.execute(
        select(literal_column("1")).where(*due).limit(1)).first() is not None
    return rows, more


def step_payment_overdue(session: Session, now: datetime, settings: Settings,
        limit: int) -> tuple[bool, SweepResult]:
    """Open ``payment_overdue`` for invoices past due; resolve those paid or voided since."""
    resolved = resolve_settled(session, now)
    rows, more = claim_overdue(session, now, limit)
    orders = Orders(session, sorted({r.order_id for r in rows}))
    tz = settings.timezone
    specs = []
    for r in rows:
        o = orders.rows.get(r.order_id)
        if o is None or o.status == "cancelled":
            continue
        specs.append(alerts.AlertSpec(
            kind=KIND, cause=f"{PREFIX}{r.id}", order_id=o.id, order_no=o.order_no,
            responsible_role=ROLE, due_at=r.due_at, since=r.due_at,
            title=alerts.texts(KIND, order_no=o.order_no, due=alerts.local(r.due_at, tz)),
            detail=alerts.detail_texts(ROLE, o.order_no),
            data={"invoice": r.number, "amount": str(r.amount),
                  "open": str(r.amount - r.paid_amount), "currency": r.currency,
                  "due_at": r.due_at.isoformat()},
            escalation=orders.escalation(o.flow_version_id)))
    opened = alerts.open_alerts(session, now, specs)
    return more, SweepResult(payment_overdue=len(opened), auto_resolved=resolved)


def resolve_settled(session: Session, now: datetime) -> int:
    """Auto-resolve live payment_overdue alerts whose invoice is paid or void (a safety net:
    the payment or void resolves its alert at once)."""
    causes = session.execute(select(_A.c.cause).where(_A.c.kind == KIND,
                                                      _A.c.state.in_(alerts.LIVE))).scalars()
    ids = {int(c[len(PREFIX):]): c for c in causes
           if c.startswith(PREFIX) and c[len(PREFIX):].isdigit()}
    if not ids:
        return 0
    settled = session.execute(select(_I.c.id).where(_I.c.id.in_(sorted(ids)),
                                                    _I.c.status.in_(("paid", "void"))))
    gone = [ids[i] for i in settled.scalars()]
    if not gone:
        return 0
    return alerts.auto_resolve(session, now, _A.c.cause.in_(gone), "invoice settled")
