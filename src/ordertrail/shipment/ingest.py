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
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from ordertrail import metrics
from ordertrail.carrier import registry
from ordertrail.carrier.base import TrackingUpdate
from ordertrail.carrier.status import Status
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.errors import TransitionNotAllowed
from ordertrail.flow import planner
from ordertrail.jobs.outbox import emit_many
from ordertrail.kit.clock import ensure_utc
from ordertrail.models import TimelineEntry, TrackingEvent, UnmatchedUpdate
from ordertrail.shipment import codec, schedule
from ordertrail.shipment import repository as repo
from ordertrail.shipment.progress import INITIAL, Point, Progress, fingerprint, fold, newer_than

_SPACES = re.compile(r"[\s\-]+")
_NOTABLE = {Status.EXCEPTION: ("parcel_exception", "shipment.exception"),
            Status.ATTEMPT_FAIL: ("delivery_failed", "shipment.attempt_failed")}


def normalise_number(number: str) -> str:
    """Tracking numbers compare without spaces or dashes, upper-case."""
    return _SPACES.sub("", number).upper()


@dataclass
class IngestReport:
    """What one ingestion did."""

    received: int = 0       # events in the updates
    stored: int = 0         # events written for the first time
    duplicates: int = 0     # events already stored (or twice in this batch)
    unmatched: int = 0      # updates kept for numbers no shipment has yet
    changed: list[int] = field(default_factory=list)  # shipments whose status changed


@dataclass
class _Touched:
    row: Any
    points: list[Point] = field(default_factory=list)
    details: dict[str, tuple[str, str | None, str | None]] = field(default_factory=dict)
    eta: datetime | None = None
    stop_reason: str | None = None


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
    numbers = {normalise_number(u.tracking_number) for u in updates}
    by_number: dict[str, list[Any]] = defaultdict(list)
    for row in repo.states_by_numbers(session, numbers):
        by_number[row.tracking_number].append(row)

    touched: dict[int, _Touched] = {}
    unmatched: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    for update in updates:
        report.received += len(update.events)
        if update.unmapped:
            metrics.UNMAPPED_CODES.labels(provider).inc(len(update.unmapped))
        number = normalise_number(update.tracking_number)
        row = _pick(by_number.get(number, []), update, provider)
        if row is None:
            unmatched.append({"provider": provider, "tracking_number": number,
                              "courier": update.courier, "source": source,
                              "payload": codec.dump(update), "received_at": now,
                              "attached_at": None, "shipment_id": None})
            continue
        t = touched.get(row.id)
        if t is None:
            t = touched[row.id] = _Touched(row)
        if update.estimated_delivery is not None:
            t.eta = ensure_utc(update.estimated_delivery)
        if update.stopped:
            t.stop_reason = (update.stop_reason or "the provider stopped tracking")[:200]
        for e in update.events:
            at = ensure_utc(e.occurred_at)
            fp = fingerprint(at, e.code, e.description, e.location, e.substatus)
            if (row.id, fp) in seen:
                report.duplicates += 1
                continue
            seen.add((row.id, fp))
            t.points.append(Point(at, e.status, e.substatus, fp))
            t.details[fp] = (e.description, e.location, e.code)

    if unmatched:
        session.execute(insert(UnmatchedUpdate.__table__), unmatched)
        report.unmatched = len(unmatched)

    # Only an event no newer than the newest stored one can already be stored.
    maybe_old = {(sid, p.fingerprint) for sid, t in touched.items()
                 if t.row.last_event_at is not None
                 for p in t.points if p.occurred_at <= t.row.last_event_at}
    stored = repo.existing_fingerprints(session, maybe_old)
    rows: list[dict[str, Any]] = []
    for sid, t in touched.items():
        if stored:
            fresh = [p for p in t.points if (sid, p.fingerprint) not in stored]
            report.duplicates += len(t.points) - len(fresh)
            t.points = fresh
        for p in t.points:
            desc, loc, code = t.details[p.fingerprint]
            rows.append({"shipment_id": sid, "fingerprint": p.fingerprint,
                         "occurred_at": p.occurred_at, "status": p.status,
                         "substatus": p.substatus, "description": desc, "code": code,
                         "location": loc, "source": source, "received_at": now})
    if rows:
        session.execute(insert(TrackingEvent.__table__), rows)
    report.stored = len(rows)
    metrics.EVENTS.labels(source).inc(report.stored)
    if report.duplicates:
        metrics.DUPLICATES.labels(source).inc(report.duplicates)
    _fold_and_save(ctx, provider, touched, now, report)
    return report


def _fold_and_save(ctx: Ctx, provider: str, touched: dict[int, _Touched], now: datetime,
                   report: IngestReport) -> None:
    session = ctx.session
    refold = [sid for sid, t in touched.items() if t.points and not newer_than(
        Progress(last_event_at=t.row.last_event_at), t.points)]
    history: dict[int, list[Any]] = defaultdict(list)
    for r in repo.points_of(session, refold) if refold else ():
        history[r.shipment_id].append(r)

    plugin = registry.get(provider)
    can_poll = bool(plugin and plugin.can_poll)
    pushes = bool(plugin and plugin.can_push)
    saves: list[dict[str, Any]] = []
    changes: list[tuple[Any, Progress, str | None, str | None]] = []
    for sid, t in touched.items():
        row = t.row
        before = Progress(row.status, row.substatus, row.progress_rank, row.last_event_at)
        delivered_at = row.delivered_at
        if sid in history:
            points = [Point(r.occurred_at, r.status, r.substatus, r.fingerprint)
                      for r in history[sid]]
            details = {r.fingerprint: (r.description, r.location) for r in history[sid]}
            after = fold(points, INITIAL)
        else:
            points = t.points
            details = {fp: (d[0], d[1]) for fp, d in t.details.items()}
            after = fold(points, before) if points else before
        last_desc, last_loc = details.get(after.last_fingerprint or "",
                                          (row.last_event, row.last_location))
        if after.status == Status.DELIVERED and before.status != Status.DELIVERED:
            delivered_at = max(p.occurred_at for p in points if p.status == Status.DELIVERED)
        elif after.status != Status.DELIVERED:
            delivered_at = None
        stopped = t.stop_reason
        saves.append({
            "_id": sid, "_status": after.status, "_substatus": after.substatus,
            "_rank": after.rank, "_last_event_at": after.last_event_at,
            "_last_event": last_desc, "_last_location": last_loc,
            "_delivered_at": delivered_at, "_event_count": row.event_count + len(t.points),
            "_carrier_eta": t.eta or row.carrier_eta,
            "_next_check_at": schedule.next_check(
                key=row.tracking_number, status=after.status, substatus=after.substatus,
                last_event_at=after.last_event_at, now=now, can_poll=can_poll, pushes=pushes,
                registered=row.registered_at is not None or not (can_poll or pushes),
                stopped=stopped is not None),
            "_stopped_reason": stopped, "_updated_at": now})
        if (after.status, after.substatus) != (before.status, before.substatus):
            changes.append((row, after, last_desc, last_loc))
            report.changed.append(sid)
    repo.save_states(session, saves)
    if changes:
        _tell_orders(ctx, changes, now)


def _tell_orders(ctx: Ctx, changes: list[tuple[Any, Progress, str | None, str | None]],
                 now: datetime) -> None:
    """Timeline rows, outbox events and the all-delivered trigger for status changes."""
    session = ctx.session
    order_ids = {row.order_id for row, *_ in changes if row.order_id is not None}
    order_nos = repo.order_numbers(session, order_ids) if order_ids else {}
    events: list[tuple[str, str, str, dict[str, Any]]] = []
    timeline: list[dict[str, Any]] = []
    delivered_orders: set[int] = set()
    for row, after, desc, loc in changes:
        payload = {"shipment_id": row.id, "tracking_number": row.tracking_number,
                   "carrier": row.carrier, "order_no": order_nos.get(row.order_id),
                   "from": row.status, "to": after.status, "substatus": after.substatus,
                   "description": desc, "location": loc,
                   "occurred_at": after.last_event_at.isoformat() if after.last_event_at
                   else None, "at": now.isoformat()}
        events.append(("shipment.status_changed", "shipment", str(row.id), payload))
        notable = _NOTABLE.get(Status(after.status))
        if notable is not None:
            events.append((notable[1], "shipment", str(row.id), payload))
            if row.order_id is not None:
                timeline.append({
                    "order_id": row.order_id, "at": after.last_event_at or now,
                    "kind": notable[0], "actor_id": None, "actor": row.carrier, "role": None,
                    "from_stage": None, "to_stage": None,
                    "note": desc, "source": "carrier",
                    "data": {"shipment_id": row.id, "tracking_number": row.tracking_number,
                             "substatus": after.substatus, "location": loc}})
        if after.status == Status.DELIVERED:
            events.append(("shipment.delivered", "shipment", str(row.id), payload))
            if row.order_id is not None:
                delivered_orders.add(row.order_id)
    if timeline:
        session.execute(insert(TimelineEntry.__table__), timeline)
    emit_many(session, events, now)
    for order_id in sorted(delivered_orders):
        if all_delivered(ctx, order_id):
            fire(ctx, order_nos[order_id], "shipment.all_delivered")


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

