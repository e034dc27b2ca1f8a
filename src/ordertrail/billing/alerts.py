"""billing: the sweep step that opens and auto-resolves `payment_overdue` alerts (placeholder)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ordertrail.config import Settings
from ordertrail.sla.sweep import SweepResult


def step_payment_overdue(session: Session, now: datetime, settings: Settings,
        limit: int) -> tuple[bool, SweepResult]:
    """Claim due rows with a conditional update and open their alerts (placeholder)."""
    return False, SweepResult()
