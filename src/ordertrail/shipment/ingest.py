"""Batched, idempotent, order-independent ingestion of carrier updates.

One call = one transaction: new events are inserted once (unique per shipment and
fingerprint), each touched shipment's status is folded (``progress``), the order hears about
what matters (timeline rows for exceptions and failed attempts, outbox events, the flow's
``shipment.all_delivered`` trigger), and updates for numbers we do not know are kept in
``unmatched_updates`` until their shipment appears.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from ordertrail import metrics
from ordertrail.carrier import registry
from ordertrail.carrier.base import CarrierEvent, TrackingUpdate
from ordertrail.carrier.status import Status
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.errors import TransitionNotAllowed
from ordertrail.flow import planner
from ordertrail.flow import service as flows
from ordertrail.jobs import outbox
from ordertrail.kit.clock import ensure_utc
from ordertrail.models import TimelineEntry, UnmatchedUpdate
from ordertrail.shipment import codec, schedule
from ordertrail.shipment import repository as repo
from ordertrail.shipment.progress import (
    INITIAL,
    Point,
    Progress,
    advance,
    fingerprint,
    fold,
    newer_than,
)

_SPACES = re.compile(r"[\s\-]+")
ALL_DELIVERED = "shipment.all_delivered"
# Keyed by the plain status string (an enum lookup per change costs more than the rest).
_NOTABLE: dict[str, tuple[str, str]] = {
    Status.EXCEPTION.value: ("parcel_exception", "shipment.exception"),
    Status.ATTEMPT_FAIL.value: ("delivery_failed", "shipment.attempt_failed")}


def normalise_number(number: str) -> str:
    """Tracking numbers compare without spaces or dashes, upper-case."""
    upper = number.upper()
    return upper if upper.isalnum() else _SPACES.sub("", upper)


@dataclass
class IngestReport:
    """What one ingestion did."""

    received: int = 0       # events in the updates
    stored: int = 0         # events written for the first time
    duplicates: int = 0     # events already stored (or twice in this batch)
    unmatched: int = 0      # updates kept for numbers no shipment has yet
    changed: list[int] = field(default_factory=list)  # shipments whose status changed


class _Touched:
    """One shipment of the batch: its state row and what the batch brings."""

    __slots__ = ("details", "eta", "older", "points", "resubscribe", "row", "stop_reason")

    def __init__(self, row: repo.State) -> None:
        self.row = row
        self.points: list[Point] = []
        # fingerprint -> the event it came from (description, location, code)
        self.details: dict[str, CarrierEvent] = {}
        self.eta: datetime | None = None
        self.stop_reason: str | None = None  # the batch stops it (None: keep the row's)
        self.resubscribe: timedelta | None = None  # the batch asks to subscribe it again
        self.older = False  # an event no newer than the newest stored one


def _pick(candidates: list[Any], update: TrackingUpdate, provider: str) -> Any | None:
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    for row in candidates:
        if update.courier and row.carrier == update.courier:
            return row
    for row in candidates:
        if row.provider == provider:
            return row
    return candidates[0]


def ingest(ctx: Ctx, provider: str, updates: Sequence[TrackingUpdate],
           source: str) -> IngestReport:
    """Store the updates' events once each and bring the shipments' status up to date."""
    report = IngestReport()
    if not updates:
        return report
    session, now = ctx.session, ctx.clock.now()
    numbers = [normalise_number(u.tracking_number) for u in updates]
    by_number: dict[str, list[repo.State]] = defaultdict(list)
    for row in repo.states_by_numbers(session, set(numbers)):
        by_number[row.tracking_number].append(row)

    touched: dict[int, _Touched] = {}
    unmatched: list[dict[str, Any]] = []
    rows: list[tuple[Any, ...]] = []  # the events to insert
    maybe_old: list[tuple[int, str]] = []  # only these can be stored already
    received = duplicates = 0
    for update, number in zip(updates, numbers, strict=True):
        events = update.events
        received += len(events)
        if update.unmapped:
            metrics.UNMAPPED_CODES.labels(provider).inc(len(update.unmapped))
        candidates = by_number.get(number)
        row = _pick(candidates, update, provider) if candidates else None
        if row is None:
            unmatched.append({"provider": provider, "tracking_number": number,
                              "courier": update.courier, "source": source,
                              "payload": codec.dump(update), "received_at": now,
                              "attached_at": None, "shipment_id": None})
            continue
        sid, last = row.id, row.last_event_at
        t = touched.get(sid)
        if t is None:
            t = touched[sid] = _Touched(row)
        if update.estimated_delivery is not None:
            t.eta = ensure_utc(update.estimated_delivery)
        # A stop or a request to subscribe again holds until a later one says otherwise
        # (the last in the batch wins); an update saying neither changes neither.
        if update.resubscribe_after is not None:
            t.resubscribe, t.stop_reason = update.resubscribe_after, None
        elif update.stopped:
            t.resubscribe = None
            t.stop_reason = (update.stop_reason or "the provider stopped tracking")[:200]
        points, details = t.points, t.details
        for e in events:
            at = e.occurred_at
            if at.tzinfo is not UTC:
                at = ensure_utc(at)
            fp = fingerprint(at, e.code, e.description, e.location, e.substatus)
            if fp in details:  # twice in this batch
                duplicates += 1
                continue
            details[fp] = e
            points.append(Point(at, e.status, e.substatus, fp))
            rows.append((sid, fp, at, e.status, e.substatus, e.description, e.code, e.location))
            if last is not None and at <= last:
                t.older = True
                maybe_old.append((sid, fp))
    report.received = received

    if unmatched:
        session.execute(insert(UnmatchedUpdate.__table__), unmatched)
        report.unmatched = len(unmatched)

    stored = repo.existing_fingerprints(session, maybe_old) if maybe_old else set()
    if stored:
        rows = [r for r in rows if (r[0], r[1]) not in stored]
        for sid in {sid for sid, _ in stored}:
            t = touched[sid]
            fresh = [p for p in t.points if (sid, p.fingerprint) not in stored]
            duplicates += len(t.points) - len(fresh)
            t.points = fresh
    repo.insert_events(session, rows, source, now)
    report.stored = len(rows)
    report.duplicates = duplicates
    metrics.EVENTS.labels(source).inc(report.stored)
    if duplicates:
        metrics.DUPLICATES.labels(source).inc(duplicates)
    _fold_and_save(ctx, provider, touched, now, report)
    return report


def _fold_and_save(ctx: Ctx, provider: str, touched: dict[int, _Touched], now: datetime,
                   report: IngestReport) -> None:
    session = ctx.session
    # An event no newer than the newest one folded in means folding the whole set again.
    refold = [sid for sid, t in touched.items() if t.older and t.points and not newer_than(
        Progress(last_event_at=t.row.last_event_at), t.points)]
    history: dict[int, list[repo.StoredPoint]] = defaultdict(list)
    for r in repo.points_of(session, refold) if refold else ():
        history[r.shipment_id].append(r)

    plugin = registry.get(provider)
    can_poll = bool(plugin and plugin.can_poll)
    pushes = bool(plugin and plugin.can_push)
    next_check = schedule.next_check
    delivered = Status.DELIVERED.value
    saves: list[tuple[Any, ...]] = []
    changes: list[tuple[Any, Progress, str | None, str | None]] = []
    for sid, t in touched.items():
        row = t.row
        before = Progress(row.status, row.substatus, row.progress_rank, row.last_event_at)
        last: repo.StoredPoint | CarrierEvent | None
        if sid in history:
            points = [Point(r.occurred_at, r.status, r.substatus, r.fingerprint)
                      for r in history[sid]]
            after = fold(points, INITIAL)
            last = next((r for r in history[sid] if r.fingerprint == after.last_fingerprint),
                        None)
        elif t.points:  # all newer than the stored ones (and unique): fold them on top
            points = t.points
            after = advance(before, points)
            last = t.details[after.last_fingerprint] if after.last_fingerprint else None
        else:
            points, after, last = t.points, before, None
        if last is not None:
            last_desc, last_loc = last.description, last.location
        else:
            last_desc, last_loc = row.last_event, row.last_location
        # delivered_at: kept while delivered, set on arrival, cleared otherwise.
        keep_delivered, delivered_at = False, None
        if after.status == delivered:
            if before.status == delivered:
                keep_delivered = True
            else:
                delivered_at = max(p.occurred_at for p in points if p.status == delivered)
        # Stopped stays stopped, registered stays registered; only the provider's request to
        # subscribe again clears both (the poller subscribes it once the wait is over). A
        # subscription already scheduled (that wait, a backoff) keeps its time.
        again = t.resubscribe
        if again is not None:
            stopped, registered = None, False
        else:
            stopped = t.stop_reason if t.stop_reason is not None else row.stopped_reason
            registered = row.registered or not (can_poll or pushes)
        check = next_check(key=row.tracking_number, status=after.status,
                           substatus=after.substatus, last_event_at=after.last_event_at,
                           now=now, can_poll=can_poll, pushes=pushes, registered=registered,
                           stopped=stopped is not None, resubscribe_after=again)
        saves.append((
            sid, after.status, after.substatus, after.rank, after.last_event_at, last_desc,
            last_loc, keep_delivered, delivered_at, len(t.points), t.eta, check,
            check is not None and not registered and again is None, stopped,
            again is not None))
        if after.status != before.status or after.substatus != before.substatus:
            changes.append((row, after, last_desc, last_loc))
            report.changed.append(sid)
    repo.save_states(session, saves, now)
    if changes:
        _tell_orders(ctx, changes, now)


def _tell_orders(ctx: Ctx, changes: list[tuple[Any, Progress, str | None, str | None]],
                 now: datetime) -> None:
    """Timeline rows, outbox events and the all-delivered trigger for status changes."""
    session = ctx.session
    order_ids = {row.order_id for row, *_ in changes if row.order_id is not None}
    heads = repo.order_heads(session, order_ids) if order_ids else {}
    events: list[tuple[str, str, str, dict[str, Any]]] = []
    timeline: list[dict[str, Any]] = []
    delivered_orders: set[int] = set()
    at_iso = now.isoformat()
    delivered = Status.DELIVERED.value
    for row, after, desc, loc in changes:
        aggregate_id = str(row.id)
        payload = {"shipment_id": row.id, "tracking_number": row.tracking_number,
                   "carrier": row.carrier,
                   "order_no": heads[row.order_id].order_no if row.order_id in heads else None,
                   "from": row.status, "to": after.status, "substatus": after.substatus,
                   "description": desc, "location": loc,
                   "occurred_at": after.last_event_at.isoformat() if after.last_event_at
                   else None, "at": at_iso}
        events.append(("shipment.status_changed", "shipment", aggregate_id, payload))
        notable = _NOTABLE.get(after.status)
        if notable is not None:
            events.append((notable[1], "shipment", aggregate_id, payload))
            if row.order_id is not None:
                timeline.append({
                    "order_id": row.order_id, "at": after.last_event_at or now,
                    "kind": notable[0], "actor_id": None, "actor": row.carrier, "role": None,
                    "from_stage": None, "to_stage": None,
                    "note": desc, "source": "carrier",
                    "data": {"shipment_id": row.id, "tracking_number": row.tracking_number,
                             "substatus": after.substatus, "location": loc}})
        if after.status == delivered:
            events.append(("shipment.delivered", "shipment", aggregate_id, payload))
            if row.order_id is not None:
                delivered_orders.add(row.order_id)
    if timeline:
        session.execute(insert(TimelineEntry.__table__), timeline)
    outbox.emit_many(session, events, now)
    for order_id in sorted(delivered_orders):
        head = heads[order_id]
        # Cheap first: an order that is not active, or whose stage does not wait for the
        # trigger, would refuse it anyway.
        if waits_for(ctx, head, ALL_DELIVERED) and all_delivered(ctx, order_id):
            fire(ctx, head.order_no, ALL_DELIVERED)


def waits_for(ctx: Ctx, head: repo.OrderHead, event: str) -> bool:
    """The order is active and a transition out of its stage waits for ``event`` (the flow
    definition is cached; its conditions are left to ``act``)."""
    if head.status != "active":
        return False
    _version, flow = flows.definition_by_id(ctx.session, head.flow_version_id)
    return any(t.trigger == event for t in flow.transitions_from(head.stage))


def all_delivered(ctx: Ctx, order_id: int) -> bool:
    """Every shipment of the order delivered, and nothing left to ship."""
    from ordertrail.shipment.service import unshipped  # service imports ingest

    statuses = [r.status for r in repo.of_orders(ctx.session, [order_id])]
    return bool(statuses) and all(s == Status.DELIVERED for s in statuses) and not any(
        qty > 0 for qty in unshipped(ctx, order_id).values())


def fire(ctx: Ctx, order_no: str, event: str, note: str | None = None) -> bool:
    """Fire a flow trigger as the system; False when nothing in the order's stage waits."""
    from ordertrail.order import service as orders  # order service is above shipments

    system = Ctx(ctx.session, SYSTEM_ACTOR, ctx.clock, ctx.settings)
    try:
        orders.act(system, order_no, planner.Trigger(event, note))
    except TransitionNotAllowed:
        return False
    return True

