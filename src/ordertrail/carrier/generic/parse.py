"""The ordertrail JSON event format: validation into TrackingUpdate values, and back.

Pure: bytes in, values out. Every problem becomes :class:`MalformedPayload` whose reason
names the field path (``updates.0.events.2.occurred_at: ...``), so a sender can fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from ordertrail.carrier.base import CarrierEvent, MalformedPayload, TrackingUpdate
from ordertrail.carrier.status import SUBSTATUSES, Status

MAX_UPDATES = 1000
MAX_EVENTS = 1000

Text = Annotated[str, Field(min_length=1, max_length=2000)]
Short = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    # Unknown fields are refused: a misspelt optional field would otherwise vanish silently.
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class GenericEvent(_Strict):
    """One checkpoint, already in the unified status language."""

    occurred_at: AwareDatetime
    status: Status
    substatus: str | None = Field(default=None, validate_default=True)
    description: Text
    code: Short | None = None
    location: Short | None = None

    @field_validator("substatus")
    @classmethod
    def _belongs_to_status(cls, value: str | None, info: ValidationInfo) -> str | None:
        status = info.data.get("status")
        if status is None:  # status itself was wrong; that error is reported instead
            return value
        if value is None:
            return f"{status.value}.other"
        if value not in SUBSTATUSES:
            raise ValueError(f"unknown substatus {value!r}")
        if value.split(".", 1)[0] != status.value:
            raise ValueError(f"{value!r} is not a substatus of {status.value!r}")
        return value


class GenericUpdate(_Strict):
    """What the sender knows about one tracking number."""

    tracking_number: Annotated[str, Field(min_length=1, max_length=100)]
    courier: Annotated[str, Field(max_length=50)] | None = None
    estimated_delivery: AwareDatetime | None = None
    stopped: bool = False
    events: Annotated[list[GenericEvent], Field(max_length=MAX_EVENTS)] = []


class GenericBody(_Strict):
    """A push (or a sim poll answer): up to 1,000 updates."""

    updates: Annotated[list[GenericUpdate], Field(max_length=MAX_UPDATES)]


def _reason(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    path = ".".join(str(part) for part in first.get("loc", ())) or "body"
    msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{path}: {msg}{more}"


def _update(raw: GenericUpdate) -> TrackingUpdate:
    events = tuple(
        CarrierEvent(occurred_at=e.occurred_at.astimezone(UTC), status=e.status.value,
                     substatus=e.substatus or f"{e.status.value}.other",
                     description=e.description, code=e.code, location=e.location)
        for e in raw.events
    )
    eta = raw.estimated_delivery.astimezone(UTC) if raw.estimated_delivery else None
    return TrackingUpdate(tracking_number=raw.tracking_number,
                          events=events,
                          courier=(raw.courier or "").lower() or None,
                          estimated_delivery=eta,
                          stopped=raw.stopped,
                          stop_reason="stopped by the sender" if raw.stopped else None)


def parse_body(body: bytes) -> list[TrackingUpdate]:
    """The updates a body carries, in the sender's order; MalformedPayload names the field."""
    try:
        parsed = GenericBody.model_validate_json(body)
    except ValidationError as exc:
        raise MalformedPayload(_reason(exc)) from None
    return [_update(u) for u in parsed.updates]


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("datetimes in the generic format must be aware")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def update_json(update: TrackingUpdate) -> dict[str, Any]:
    """One TrackingUpdate as a JSON-ready object of the generic format."""
    return {
        "tracking_number": update.tracking_number,
        "courier": update.courier,
        "estimated_delivery": (_iso(update.estimated_delivery)
                               if update.estimated_delivery else None),
        "stopped": update.stopped,
        "events": [
            {"occurred_at": _iso(e.occurred_at), "status": e.status, "substatus": e.substatus,
             "description": e.description, "code": e.code, "location": e.location}
            for e in update.events
        ],
    }


def body_json(updates: Sequence[TrackingUpdate]) -> dict[str, Any]:
    """A whole generic-format body (``{"updates": [...]}``) for senders and the simulator."""
    if len(updates) > MAX_UPDATES:
        raise ValueError(f"at most {MAX_UPDATES} updates per body")
    return {"updates": [update_json(u) for u in updates]}
