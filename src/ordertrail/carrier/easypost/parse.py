"""EasyPost webhook Events and Trackers into ordertrail updates: pure, no I/O.

A webhook body is an ``Event`` whose ``result`` is the changed object; for
``tracker.created`` / ``tracker.updated`` that is a ``Tracker``. Other events (batches,
refunds, invoices...) reach the same URL unless the webhook filters them; they carry no
tracking and parse to ``[]`` so that EasyPost is not made to retry them.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ordertrail.carrier.base import CarrierEvent, MalformedPayload, TrackingUpdate
from ordertrail.carrier.easypost.codes import CARRIERS, DETAILS, ESCALATE, REFINE, STATUSES
from ordertrail.carrier.payload import iso_time, json_object
from ordertrail.carrier.payload import objects as _objects
from ordertrail.carrier.payload import optional_object as _optional_object
from ordertrail.carrier.payload import text as _text
from ordertrail.carrier.status import STICKY, Status, status_of, unknown

SIGNATURE_HEADER = "x-hmac-signature"
SIGNATURE_PREFIX = "hmac-sha256-hex="
TRACKER_EVENTS = frozenset({"tracker.created", "tracker.updated"})


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hmac-Signature`` value for ``body``, keyed with the NFKD form of the secret."""
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return SIGNATURE_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def map_code(status: str | None, detail: str | None) -> tuple[str, bool]:
    """Our substatus for an EasyPost status / status_detail pair, and whether it was mapped."""
    default = STATUSES.get(status or "")
    if default is None:
        return unknown(Status.PENDING), False  # pending never moves a shipment on or back
    if not detail:
        return default, True
    if (refined := REFINE.get((status or "", detail))) is not None:
        return refined, True
    escalated = ESCALATE.get(detail)
    if (escalated and status != "delivered" and status not in ("cancelled", "canceled")
            and (default not in STICKY or escalated in STICKY)):
        return escalated, True
    if detail in DETAILS or default in STICKY:
        # A documented detail with nothing to add, or a status that decides on its own.
        return default, True
    return unknown(status_of(default)), False


def parse_webhook(body: bytes) -> list[TrackingUpdate]:
    """The updates a (verified) webhook Event carries; [] for events about other objects."""
    payload = json_object(body)
    kind = payload.get("object")
    if kind is not None and kind != "Event":
        raise MalformedPayload(f"object: expected 'Event', got {str(kind)[:40]!r}")
    description = payload.get("description")
    if not isinstance(description, str) or not description:
        raise MalformedPayload("description: missing or not a string")
    if description not in TRACKER_EVENTS:
        return []
    result = payload.get("result")
    if not isinstance(result, dict):
        raise MalformedPayload("result: missing or not an object")
    if result.get("object", "Tracker") != "Tracker":
        raise MalformedPayload("result.object: expected 'Tracker'")
    return [parse_tracker(result, path="result")]


def parse_tracker(tracker: Mapping[str, Any], *, path: str = "tracker") -> TrackingUpdate:
    """One EasyPost Tracker as a TrackingUpdate (``path`` prefixes error reasons)."""
    number = _text(tracker, "tracking_code", path)
    if not number:
        raise MalformedPayload(f"{path}.tracking_code: missing")
    carrier = _text(tracker, "carrier", path)
    status = _text(tracker, "status", path)
    detail = _text(tracker, "status_detail", path)
    if not status:
        raise MalformedPayload(f"{path}.status: missing")

    events: list[CarrierEvent] = []
    statuses: list[str | None] = []
    unmapped: list[str] = []
    for where, item in _objects(tracker, "tracking_details", path):
        event, mapped = _detail(item, where)
        events.append(event)
        statuses.append(_text(item, "status", where))
        if not mapped:
            unmapped.append(event.code or "")

    # The newest scan, by time and by EasyPost's own (appending) order.
    newest = {len(events) - 1, max(range(len(events)), key=lambda i: events[i].occurred_at)
              } if events else set()
    if all(statuses[i] != status for i in newest):
        # The tracker moved (cancelled, error, return...) without a scan saying so, or has
        # no scans yet: record its own status once, at the time EasyPost last changed it.
        at = _time(tracker, "updated_at", path)
        if at is not None:
            sub, mapped = map_code(status, detail)
            code = _code(status, detail)
            events.append(CarrierEvent(occurred_at=at, status=status_of(sub).value,
                                       substatus=sub, description=code, code=code))
            if not mapped:
                unmapped.append(code)

    finalized = tracker.get("finalized")
    return TrackingUpdate(
        tracking_number=number,
        events=tuple(events),
        courier=CARRIERS.get(carrier.lower()) if carrier else None,
        estimated_delivery=_estimated_delivery(tracker, path),
        stopped=finalized is True,
        stop_reason=f"EasyPost finalized the tracker ({status})" if finalized is True else None,
        unmapped=tuple(dict.fromkeys(unmapped)),
    )


def _detail(item: Mapping[str, Any], where: str) -> tuple[CarrierEvent, bool]:
    status = _text(item, "status", where)
    detail = _text(item, "status_detail", where)
    if not status:
        raise MalformedPayload(f"{where}.status: missing")
    occurred_at = _time(item, "datetime", where)
    if occurred_at is None:
        raise MalformedPayload(f"{where}.datetime: missing")
    sub, mapped = map_code(status, detail)
    code = _code(status, detail)
    event = CarrierEvent(
        occurred_at=occurred_at,
        status=status_of(sub).value,
        substatus=sub,
        description=_text(item, "message", where) or _text(item, "description", where) or code,
        code=code,
        location=_location(item, where),
    )
    return event, mapped


def _code(status: str | None, detail: str | None) -> str:
    return f"{status}/{detail}" if detail else status or ""


def _location(item: Mapping[str, Any], where: str) -> str | None:
    place = _optional_object(item, "tracking_location", where)
    if place is None:
        return None
    at = f"{where}.tracking_location"
    parts = [_text(place, key, at) for key in ("city", "state", "zip", "country")]
    return ", ".join(p for p in parts if p) or None


def _estimated_delivery(tracker: Mapping[str, Any], path: str) -> datetime | None:
    if (at := _time(tracker, "est_delivery_date", path)) is not None:
        return at
    # Only a local date: kept as 00:00 UTC of that date, the shape est_delivery_date has.
    detail = _optional_object(tracker, "carrier_detail", path)
    if detail is None:
        return None
    return _time(detail, "est_delivery_date_local", f"{path}.carrier_detail")


def _time(obj: Mapping[str, Any], key: str, where: str) -> datetime | None:
    """An ISO 8601 time as aware UTC; EasyPost's times without an offset are UTC."""
    return iso_time(obj, key, where, UTC)
