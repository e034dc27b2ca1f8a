"""Reading provider JSON: field access whose MalformedPayload reasons name the field path.

Shared by the provider parsers so that every one reports a bad field the same way
(``msg.checkpoints[2].checkpoint_time: ...``). Pure, no I/O. Which wording a provider's
reasons use (``not an object`` or ``expected a JSON object``) is kept as it was: each
accessor below is the one its providers already used.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from ordertrail.carrier.base import MalformedPayload


def json_object(body: bytes) -> dict[str, Any]:
    """A webhook body that must be one JSON object (reasons start with ``body``)."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise MalformedPayload("body: not valid JSON") from None
    if not isinstance(payload, dict):
        raise MalformedPayload("body: expected a JSON object")
    return payload


def text(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    """``obj[key]`` stripped; None when absent, null or blank; a non-string is malformed."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return (value or "").strip() or None
    raise MalformedPayload(f"{where}.{key}: expected a string, got {type(value).__name__}")


def iso_time(obj: Mapping[str, Any], key: str, where: str, zone: tzinfo) -> datetime | None:
    """``obj[key]``, an ISO 8601 time (or date), as aware UTC; None when absent.

    A time without an offset is read in ``zone``: what that is differs by provider (EasyPost
    sends UTC, AfterShip the checkpoint's local time), so every caller says.
    """
    value = text(obj, key, where)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise MalformedPayload(f"{where}.{key}: not an ISO 8601 time: {value[:40]!r}") from None


def optional_object(obj: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any] | None:
    """``obj[key]`` when it is an object, None when absent or null; else ``not an object``."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedPayload(f"{where}.{key}: not an object")
    return value


def objects(obj: Mapping[str, Any], key: str, where: str
            ) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(path, item)`` for each object in the list ``obj[key]`` (absent or null: none).

    Lazy: an item that is not an object is reported when it is reached, so a payload with
    several faults is reported by its first one, in order.
    """
    raw = obj.get(key)
    if raw is None:
        return
    if not isinstance(raw, list):
        raise MalformedPayload(f"{where}.{key}: not a list")
    for i, item in enumerate(raw):
        at = f"{where}.{key}[{i}]"
        if not isinstance(item, dict):
            raise MalformedPayload(f"{at}: not an object")
        yield at, item


def as_object(value: object, where: str) -> Mapping[str, Any]:
    """``value`` when it is a JSON object; else ``<where>: expected a JSON object``."""
    if not isinstance(value, Mapping):
        raise MalformedPayload(f"{where}: expected a JSON object")
    return value


def object_or_empty(obj: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    """``obj[key]`` as an object, ``{}`` when absent or null (``expected a JSON object``)."""
    value = obj.get(key)
    return {} if value is None else as_object(value, f"{where}.{key}")
