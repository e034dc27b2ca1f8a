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
from dataclasses import dataclass
from datetime import datetime

from ordertrail.carrier.status import EXPLICIT, RANK, STICKY, Status


@dataclass(frozen=True, slots=True)
class Progress:
    """The fold's state: what the shipment row keeps."""

    status: str = Status.PENDING.value
    substatus: str = "pending.registered"
    rank: int = 0                       # furthest point reached along the lifecycle
    last_event_at: datetime | None = None
    last_fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class Point:
    """The part of a stored event the fold reads."""

    occurred_at: datetime
    status: str
    substatus: str
    fingerprint: str


INITIAL = Progress()


def fingerprint(occurred_at: datetime, code: str | None, description: str,
                location: str | None, substatus: str = "") -> str:
    """Identity of an event: the same checkpoint sent twice has the same fingerprint."""
    key = "\x1f".join((occurred_at.isoformat(timespec="seconds"), code or "",
                       " ".join(description.split()), location or "", substatus))
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def sort_key(point: Point) -> tuple[datetime, int, str]:
    """The total order the fold runs in."""
    return point.occurred_at, RANK[point.status], point.fingerprint


def step(state: Progress, point: Point) -> Progress:
    """Apply one event that is not older than anything folded into ``state``."""
    status = point.status
    applies: bool
    if status in EXPLICIT:
        # News, except a failed attempt stamped after the parcel was delivered.
        applies = not (status == Status.ATTEMPT_FAIL and state.status == Status.DELIVERED)
    elif state.substatus in STICKY:
        applies = False
    else:
        applies = RANK[status] >= state.rank and not (
            state.status in (Status.DELIVERED, Status.EXPIRED) and status != Status.DELIVERED)
    if not applies:
        return Progress(state.status, state.substatus, state.rank, point.occurred_at,
                        point.fingerprint)
    rank = state.rank if status in EXPLICIT else max(state.rank, RANK[status])
    return Progress(status, point.substatus, rank, point.occurred_at, point.fingerprint)


def fold(points: Iterable[Point], state: Progress = INITIAL) -> Progress:
    """Fold events (any order, duplicates allowed) into ``state``."""
    seen: set[str] = set()
    unique = []
    for p in points:
        if p.fingerprint not in seen:
            seen.add(p.fingerprint)
            unique.append(p)
    for point in sorted(unique, key=sort_key):
        state = step(state, point)
    return state


def newer_than(state: Progress, points: Iterable[Point]) -> bool:
    """True when every point sorts strictly after what ``state`` has folded in."""
    if state.last_event_at is None:
        return True
    return all(p.occurred_at > state.last_event_at for p in points)
