"""AfterShip webhooks and tracking objects into ordertrail updates: pure, no I/O.

A webhook body is ``{"event": ..., "event_id": ..., "ts": <unix>, "msg": <tracking>}``; the
tracking object is the one AfterShip's Tracking API returns, so a future polling client can
reuse :func:`parse_tracking`. Field names from several API versions are accepted
(``country_iso3`` / ``country_region``, ``expected_delivery`` / ``latest_estimated_delivery``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from ordertrail.carrier.aftership.codes import (
    COUNTRY_TZ,
    COURIER_TZ,
    COURIERS,
    SUBTAGS,
    TAG_STATUS,
    TAGS,
)
from ordertrail.carrier.base import CarrierEvent, MalformedPayload, TrackingUpdate
from ordertrail.carrier.payload import iso_time as _time
from ordertrail.carrier.payload import json_object
from ordertrail.carrier.payload import objects as _objects
from ordertrail.carrier.payload import optional_object as _optional_object
from ordertrail.carrier.payload import text as _text
from ordertrail.carrier.status import Status, is_final, status_of, unknown

SIGNATURE_HEADER = "aftership-hmac-sha256"

# Events whose ``msg`` is a tracking object (AfterShip "Webhook Specifications").
TRACKING_EVENTS = frozenset({"tracking_update", "edd_revise", "tracking_pending_time"})


def sign(secret: str, body: bytes) -> str:
    """The ``aftership-hmac-sha256`` value for ``body``: base64 of HMAC-SHA256 with the secret."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def map_code(tag: str | None, subtag: str | None) -> tuple[str, bool]:
    """Our substatus for an AfterShip tag/subtag pair, and whether it was mapped."""
    if subtag and subtag in SUBTAGS:
        return SUBTAGS[subtag], True
    if not subtag and tag in TAGS:
        return TAGS[tag], True
    # An unknown subtag keeps the status its tag (or its own prefix) names; with neither
    # known, pending is the one status that can never move a shipment on or back.
    prefix = subtag.split("_", 1)[0] if subtag else None
    status = TAG_STATUS.get(tag or "") or TAG_STATUS.get(prefix or "") or Status.PENDING
    return unknown(status), False


def parse_webhook(body: bytes, *, fallback_tz: str = "UTC") -> list[TrackingUpdate]:
    """The updates a (verified) webhook body carries; [] for events without a tracking."""
    payload = json_object(body)
    event = payload.get("event")
    if not isinstance(event, str) or not event:
        raise MalformedPayload("event: missing or not a string")
    if event not in TRACKING_EVENTS:
        return []
    msg = payload.get("msg")
    if not isinstance(msg, dict):
        raise MalformedPayload("msg: missing or not an object")
    sent_at = _unix(payload.get("ts"), "ts")
    return [parse_tracking(msg, path="msg", fallback_tz=fallback_tz, sent_at=sent_at)]


def parse_tracking(tracking: Mapping[str, Any], *, path: str = "tracking",
                   fallback_tz: str = "UTC", sent_at: datetime | None = None) -> TrackingUpdate:
    """One AfterShip tracking object as a TrackingUpdate (``path`` prefixes error reasons)."""
    number = _text(tracking, "tracking_number", path)
    if not number:
        raise MalformedPayload(f"{path}.tracking_number: missing")
    their_slug = _text(tracking, "slug", path)
    courier = COURIERS.get(their_slug.lower()) if their_slug else None
    fallback = ZoneInfo(fallback_tz)
    home_tz = _zone(COURIER_TZ.get(courier or ""))

    events: list[CarrierEvent] = []
    tags: list[str] = []
    unmapped: list[str] = []
    for where, checkpoint in _objects(tracking, "checkpoints", path):
        event, tag, mapped = _checkpoint(checkpoint, where, home_tz or fallback)
        events.append(event)
        tags.append(tag)
        if not mapped:
            unmapped.append(event.code or "")

    tag = _text(tracking, "tag", path)
    subtag = _text(tracking, "subtag", path)
    # The newest checkpoint, by time and by AfterShip's own (oldest-first) order.
    newest = {len(events) - 1, max(range(len(events)), key=lambda i: events[i].occurred_at)
              } if events else set()
    if (tag or subtag) and all(tags[i] != _tag_of(tag, subtag) for i in newest):
        # The tracking says something no checkpoint does (Expired, an exception AfterShip
        # inferred): record it once, at the time AfterShip last changed the tracking.
        at = _time(tracking, "updated_at", path, UTC) or sent_at
        if at is not None:
            sub, mapped = map_code(tag, subtag)
            code = subtag or tag
            events.append(CarrierEvent(
                occurred_at=at, status=status_of(sub).value, substatus=sub,
                description=_text(tracking, "subtag_message", path) or code or "",
                code=code))
            if not mapped:
                unmapped.append(code or "")

    # The tracking's own tag is AfterShip's current verdict; without one, the newest checkpoint.
    if tag or subtag:
        current: str | None = map_code(tag, subtag)[0]
    else:
        current = events[-1].substatus if events else None
    stopped = tracking.get("active") is False or (
        current is not None and is_final(status_of(current), current))
    dest_tz = _dest_zone(tracking, path) or home_tz or fallback
    return TrackingUpdate(
        tracking_number=number,
        events=tuple(events),
        courier=courier,
        estimated_delivery=_estimated_delivery(tracking, path, dest_tz),
        stopped=stopped,
        stop_reason=f"AfterShip stopped tracking ({tag or 'no tag'})" if stopped else None,
        unmapped=tuple(dict.fromkeys(unmapped)),
    )


def _checkpoint(cp: Mapping[str, Any], where: str,
                default_tz: tzinfo) -> tuple[CarrierEvent, str, bool]:
    tag = _text(cp, "tag", where)
    subtag = _text(cp, "subtag", where)
    if not tag and not subtag:
        raise MalformedPayload(f"{where}.tag: missing")
    country = _text(cp, "country_region", where) or _text(cp, "country_iso3", where)
    zone = _zone(COUNTRY_TZ.get((country or "").upper()))
    cp_courier = COURIERS.get((_text(cp, "slug", where) or "").lower())
    zone = zone or _zone(COURIER_TZ.get(cp_courier or "")) or default_tz
    occurred_at = _time(cp, "checkpoint_time", where, zone)
    if occurred_at is None:
        raise MalformedPayload(f"{where}.checkpoint_time: missing")
    sub, mapped = map_code(tag, subtag)
    code = subtag or tag
    event = CarrierEvent(
        occurred_at=occurred_at,
        status=status_of(sub).value,
        substatus=sub,
        description=_text(cp, "message", where) or _text(cp, "subtag_message", where) or code
        or "",
        code=code,
        location=_location(cp, where),
    )
    return event, _tag_of(tag, subtag), mapped


def _tag_of(tag: str | None, subtag: str | None) -> str:
    return tag or (subtag or "").split("_", 1)[0]


def _location(cp: Mapping[str, Any], where: str) -> str | None:
    if text := _text(cp, "location", where):
        return text
    country = (_text(cp, "country_region_name", where) or _text(cp, "country_name", where)
               or _text(cp, "country_region", where) or _text(cp, "country_iso3", where))
    parts = (_text(cp, "city", where), _text(cp, "state", where), country)
    return ", ".join(p for p in parts if p) or None


def _estimated_delivery(tracking: Mapping[str, Any], path: str, zone: tzinfo) -> datetime | None:
    # AfterShip's own choice among its sources first, then the carrier's, then its AI's,
    # then the merchant's rule; a range counts by its upper end (the latest it may arrive).
    for key, fields in (
        ("latest_estimated_delivery", ("datetime", "datetime_max", "datetime_min")),
        ("courier_estimated_delivery_date",
         ("estimated_delivery_date", "estimated_delivery_date_max", "estimated_delivery_date_min")),
        ("aftership_estimated_delivery_date",
         ("estimated_delivery_date", "estimated_delivery_date_max", "estimated_delivery_date_min")),
        ("custom_estimated_delivery_date", ("datetime", "datetime_max", "datetime_min")),
    ):
        value = _optional_object(tracking, key, path)
        if value is None:
            continue
        for field in fields:
            if (at := _time(value, field, f"{path}.{key}", zone)) is not None:
                return at
    return _time(tracking, "expected_delivery", path, zone)


def _dest_zone(tracking: Mapping[str, Any], path: str) -> tzinfo | None:
    for key in ("destination_country_region", "destination_country_iso3",
                "courier_destination_country_region", "courier_destination_country_iso3"):
        country = (_text(tracking, key, path) or "").upper()
        if zone := _zone(COUNTRY_TZ.get(country)):
            return zone
    return None


def _unix(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedPayload(f"{where}: not a unix timestamp")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        raise MalformedPayload(f"{where}: not a unix timestamp") from None


def _zone(name: str | None) -> tzinfo | None:
    return ZoneInfo(name) if name else None
