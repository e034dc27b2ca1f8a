"""Pure: a shipment's status as a function of the *set* of its tracking events.

Events are folded in a total order — occurred_at, then lifecycle rank, then fingerprint — so
the result does not depend on the order in which events arrived, nor on duplicates. Within
that order a forward status applies only if it does not go back along the lifecycle
(pending → info_received → in_transit → out_for_delivery → available_for_pickup →
delivered); an explicit exception or failed attempt always applies, because it is news; a
forward scan at or beyond the furthest point reached clears an exception again, except the
sticky ones (returning, returned, destroyed, cancelled).

The shipment row stores the fold's state so a newer event is applied incrementally; an event
older than the newest one stored makes the service refold the shipment's events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NamedTuple

from ordertrail.carrier.status import EXPLICIT, RANK, STICKY, Status

# Named tuples rather than frozen dataclasses: ingestion makes one Point per event and one
# Progress per fold step, and a tuple is built several times faster.


class Progress(NamedTuple):
    """The fold's state: what the shipment row keeps."""

    status: str = Status.PENDING.value
    substatus: str = "pending.registered"
    rank: int = 0                       # furthest point reached along the lifecycle
    last_event_at: datetime | None = None
    last_fingerprint: str | None = None


class Point(NamedTuple):
    """The part of a stored event the fold reads."""

    occurred_at: datetime
    status: str
    substatus: str
    fingerprint: str


INITIAL = Progress()
_UTC_SECONDS = "%04d-%02d-%02dT%02d:%02d:%02d+00:00"  # percent formatting: the fastest


def fingerprint(occurred_at: datetime, code: str | None, description: str,
                location: str | None, substatus: str = "") -> str:
    """Identity of an event: the same checkpoint sent twice has the same fingerprint."""
    at = occurred_at
    if at.tzinfo is UTC:  # what isoformat(timespec="seconds") writes, about twice as fast
        stamp = _UTC_SECONDS % (at.year, at.month, at.day, at.hour, at.minute, at.second)
    else:
        stamp = at.isoformat(timespec="seconds")
    key = "\x1f".join((stamp, code or "", " ".join(description.split()), location or "",
                       substatus))
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def sort_key(point: Point) -> tuple[datetime, int, str]:
    """The total order the fold runs in."""
    return point.occurred_at, RANK[point.status], point.fingerprint


_DELIVERED = Status.DELIVERED.value
_ATTEMPT_FAIL = Status.ATTEMPT_FAIL.value
_TERMINAL = (Status.DELIVERED.value, Status.EXPIRED.value)


def _run(state: Progress, points: Iterable[Point]) -> Progress:
    """Apply events in the fold's order (the rules of ``step``, without a Progress per event)."""
    status, substatus, rank, last_at, last_fp = state
    for at, p_status, p_substatus, fp in points:
        if p_status in EXPLICIT:
            # News, except a failed attempt stamped after the parcel was delivered.
            if not (p_status == _ATTEMPT_FAIL and status == _DELIVERED):
                status, substatus = p_status, p_substatus
        elif substatus not in STICKY:
            p_rank = RANK[p_status]
            if p_rank >= rank and not (status in _TERMINAL and p_status != _DELIVERED):
                status, substatus, rank = p_status, p_substatus, p_rank
        last_at, last_fp = at, fp
    return Progress(status, substatus, rank, last_at, last_fp)


def step(state: Progress, point: Point) -> Progress:
    """Apply one event that is not older than anything folded into ``state``."""
    return _run(state, (point,))


def fold(points: Iterable[Point], state: Progress = INITIAL) -> Progress:
    """Fold events (any order, duplicates allowed) into ``state``."""
    first: dict[str, Point] = {}
    for p in points:
        first.setdefault(p.fingerprint, p)
    return advance(state, list(first.values()))


def advance(state: Progress, points: list[Point]) -> Progress:
    """Fold events without duplicates into ``state`` (sorts ``points`` in place)."""
    if len(points) > 1:
        points.sort(key=sort_key)
    return _run(state, points)


def newer_than(state: Progress, points: Iterable[Point]) -> bool:
    """True when every point sorts strictly after what ``state`` has folded in."""
    if state.last_event_at is None:
        return True
    return all(p.occurred_at > state.last_event_at for p in points)
