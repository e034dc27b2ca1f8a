"""Pure parsing and mapping of 17TRACK v2.2 pushes and ``gettrackinfo`` results.

A push is a JSON body ``{"event": "TRACKING_UPDATED" | "TRACKING_STOPPED", "data": {...}}``
signed in the ``sign`` header with SHA-256 hex of (raw body + "/" + security key).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from ordertrail.carrier import signing
from ordertrail.carrier.base import (
    BadSignature,
    CarrierEvent,
    MalformedPayload,
    TrackingUpdate,
)
from ordertrail.carrier.payload import as_object as _object
from ordertrail.carrier.payload import object_or_empty as _object_or_empty
from ordertrail.carrier.payload import text as _text
from ordertrail.carrier.status import Status, status_of, unknown
from ordertrail.carrier.track17 import codes

STOP_REASON = ("17TRACK stopped tracking this number (TRACKING_STOPPED: stopped through the "
               "API or by 17TRACK's own stop rules); call retrack to resume")


def push_sign(body: bytes, key: str) -> str:
    """The ``sign`` header of a push: SHA-256 hex of body + "/" + key."""
    return hashlib.sha256(body + b"/" + key.encode("utf-8")).hexdigest()


def verify_push(headers: Mapping[str, str], body: bytes, key: str | None) -> None:
    """Raise BadSignature unless the ``sign`` header matches the raw body and our key."""
    key = signing.require_secret(key, "no 17TRACK key is configured (ORDERTRAIL_TRACK17_KEY)")
    offered = headers.get("sign", "").strip().lower()
    if not offered:
        raise BadSignature("the push has no sign header")
    signing.check(offered, push_sign(body, key), "sign does not match SHA-256(body + '/' + key)")


def map_sub_status(code: str, status: str | None = None) -> tuple[str, bool]:
    """Our substatus for a 17TRACK sub_status and whether it was mapped."""
    known = codes.SUB_STATUS.get(code)
    if known is not None:
        return known, True
    family = codes.STATUS.get(code.split("_", 1)[0]) or codes.STATUS.get(status or "")
    return unknown(family or Status.PENDING), False


def parse_time(value: object, where: str, default_tz: tzinfo = UTC) -> datetime:
    """An ISO 8601 time as aware UTC; one without an offset is read in ``default_tz``."""
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=default_tz)
            return parsed.astimezone(UTC)
    raise MalformedPayload(f"{where}: {value!r} is not an ISO 8601 time")


def _location(event: Mapping[str, Any], where: str) -> str | None:
    text = _text(event, "location", where)
    if text:
        return text
    address = event.get("address")
    if isinstance(address, Mapping):
        parts = [address.get(k) for k in ("city", "state", "country")]
        joined = ", ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
        return joined or None
    return None


def _event_time(event: Mapping[str, Any], where: str, default_tz: tzinfo) -> datetime:
    if event.get("time_utc"):
        return parse_time(event["time_utc"], f"{where}.time_utc", UTC)
    if event.get("time_iso"):
        return parse_time(event["time_iso"], f"{where}.time_iso", default_tz)
    raise MalformedPayload(f"{where}.time_utc: missing (and no time_iso)")


def _estimated(metrics: Mapping[str, Any], where: str, default_tz: tzinfo) -> datetime | None:
    edd = metrics.get("estimated_delivery_date")
    if edd is None:
        return None
    edd = _object(edd, f"{where}.estimated_delivery_date")
    for bound in ("to", "from"):  # the end of the window is what was promised
        if edd.get(bound):
            return parse_time(edd[bound], f"{where}.estimated_delivery_date.{bound}",
                              default_tz)
    return None


def parse_track(data: object, where: str = "data", default_tz: tzinfo = UTC) -> TrackingUpdate:
    """The update one tracked number (push ``data`` or a ``gettrackinfo`` item) describes."""
    item = _object(data, where)
    number = _text(item, "number", where)
    if number is None:
        raise MalformedPayload(f"{where}.number: missing")
    carrier = item.get("carrier")
    courier = codes.COURIER.get(carrier) if isinstance(carrier, int) else None
    info = _object_or_empty(item, "track_info", where)
    at = f"{where}.track_info"
    unmapped: list[str] = []
    latest = _object_or_empty(info, "latest_status", at)
    latest_status = _text(latest, "status", f"{at}.latest_status")
    latest_sub = _text(latest, "sub_status", f"{at}.latest_status")
    if latest_sub is not None and not map_sub_status(latest_sub, latest_status)[1]:
        unmapped.append(latest_sub)
    events: list[CarrierEvent] = []
    providers = _object_or_empty(info, "tracking", at).get("providers")
    providers = [] if providers is None else providers
    if not isinstance(providers, list):
        raise MalformedPayload(f"{at}.tracking.providers: expected a list")
    for p_index, provider in enumerate(providers):
        p_at = f"{at}.tracking.providers[{p_index}]"
        raw_events = _object(provider, p_at).get("events")
        raw_events = [] if raw_events is None else raw_events
        if not isinstance(raw_events, list):
            raise MalformedPayload(f"{p_at}.events: expected a list")
        for e_index, raw in enumerate(raw_events):
            e_at = f"{p_at}.events[{e_index}]"
            event = _object(raw, e_at)
            code = _text(event, "sub_status", e_at)
            if code is None:
                raise MalformedPayload(f"{e_at}.sub_status: missing")
            sub, ok = map_sub_status(code)
            if not ok:
                unmapped.append(code)
            events.append(CarrierEvent(
                occurred_at=_event_time(event, e_at, default_tz),
                status=status_of(sub).value, substatus=sub,
                description=_text(event, "description", e_at) or "",
                code=code, location=_location(event, e_at)))
    events.sort(key=lambda e: e.occurred_at)
    metrics = _object_or_empty(info, "time_metrics", at)
    return TrackingUpdate(
        tracking_number=number, events=tuple(events), courier=courier,
        estimated_delivery=_estimated(metrics, f"{at}.time_metrics", default_tz),
        unmapped=tuple(dict.fromkeys(unmapped)))


def parse_push(body: bytes, default_tz: tzinfo = UTC) -> list[TrackingUpdate]:
    """The updates of a verified push body."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"body: not JSON ({exc})") from None
    obj = _object(payload, "body")
    event = obj.get("event")
    if event not in (codes.TRACKING_UPDATED, codes.TRACKING_STOPPED):
        raise MalformedPayload(f"event: unknown event {event!r}")
    data = obj.get("data")
    items = data if isinstance(data, list) else [data]
    if event == codes.TRACKING_UPDATED:
        return [parse_track(d, "data" if len(items) == 1 else f"data[{i}]", default_tz)
                for i, d in enumerate(items)]
    updates = []
    for i, d in enumerate(items):
        where = "data" if len(items) == 1 else f"data[{i}]"
        item = _object(d, where)
        number = _text(item, "number", where)
        if number is None:
            raise MalformedPayload(f"{where}.number: missing")
        carrier = item.get("carrier")
        updates.append(TrackingUpdate(
            tracking_number=number,
            courier=codes.COURIER.get(carrier) if isinstance(carrier, int) else None,
            stopped=True, stop_reason=STOP_REASON))
    return updates


def parse_track_response(payload: object, default_tz: tzinfo = UTC) -> list[TrackingUpdate]:
    """The updates of a successful ``gettrackinfo`` answer's ``data.accepted``."""
    data = _object(_object(payload, "response").get("data"), "response.data")
    accepted = data.get("accepted")
    accepted = [] if accepted is None else accepted
    if not isinstance(accepted, list):
        raise MalformedPayload("response.data.accepted: expected a list")
    return [parse_track(item, f"response.data.accepted[{i}]", default_tz)
            for i, item in enumerate(accepted)]
