"""TrackingUpdate <-> JSON, for updates kept while their shipment does not exist yet."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ordertrail.carrier.base import CarrierEvent, TrackingUpdate


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def dump(update: TrackingUpdate) -> dict[str, Any]:
    """A JSON-ready dict of an update."""
    return {
        "tracking_number": update.tracking_number,
        "courier": update.courier,
        "estimated_delivery": _time(update.estimated_delivery),
        "stopped": update.stopped,
        "stop_reason": update.stop_reason,
        "unmapped": list(update.unmapped),
        "resubscribe_after": (update.resubscribe_after.total_seconds()
                              if update.resubscribe_after is not None else None),
        "events": [{"occurred_at": e.occurred_at.isoformat(), "status": e.status,
                    "substatus": e.substatus, "description": e.description, "code": e.code,
                    "location": e.location} for e in update.events],
    }


def load(data: dict[str, Any]) -> TrackingUpdate:
    """The update ``dump`` wrote."""
    return TrackingUpdate(
        tracking_number=data["tracking_number"],
        courier=data.get("courier"),
        estimated_delivery=_parse(data.get("estimated_delivery")),
        stopped=bool(data.get("stopped")),
        stop_reason=data.get("stop_reason"),
        unmapped=tuple(data.get("unmapped") or ()),
        resubscribe_after=(timedelta(seconds=data["resubscribe_after"])
                           if data.get("resubscribe_after") is not None else None),
        events=tuple(CarrierEvent(occurred_at=datetime.fromisoformat(e["occurred_at"]),
                                  status=e["status"], substatus=e["substatus"],
                                  description=e["description"], code=e.get("code"),
                                  location=e.get("location"))
                     for e in data.get("events") or ()),
    )
