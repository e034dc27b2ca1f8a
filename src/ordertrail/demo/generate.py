"""Build the demo database: users with keys, and months of orders moved by the real services.

Every order is first planned in memory (``plan``, ``script``: creation, then each step at a
realistic time, until 'now'), then created and moved by ``order.service`` under a frozen clock
set to each step's time, so its timeline, stage visits, approvals and outbox events are what
the system itself writes. Orders are applied in batches, one transaction each.

Orders that have passed their shipping step get their parcels (``shipments``): created and
fed their carrier checkpoints between the order's steps, at the times they happened.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from ordertrail.auth import service as auth
from ordertrail.config import Settings
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.db import make_sessionmaker, write_session
from ordertrail.demo import alerting, data, operations
from ordertrail.demo.live import live_parcels
from ordertrail.demo.plan import DAYS, Planner
from ordertrail.demo.report import DemoReport, UserKey, highlights
from ordertrail.demo.script import Draft
from ordertrail.demo.shipments import OrderParcels, ParcelWriter, plan_parcels
from ordertrail.errors import TransitionNotAllowed
from ordertrail.flow import planner
from ordertrail.flow.planner import Actor
from ordertrail.kit.clock import FrozenClock, SystemClock
from ordertrail.models import Order, OutboxEvent, Shipment, StageVisit, User
from ordertrail.order import service

WALKTHROUGH_SALES = "li.na"  # present means: the demo was built in this database already
BATCH = 100
MANAGERS = [u.name for u in data.USERS if u.role == "manager"]
LATE_CREATOR = "shop.sync"  # the marketplace sync creates retail orders


def ensure_users(session: Session, now: datetime) -> tuple[dict[str, User], bool]:
    """The demo users, created if missing; True if the demo was built here before."""
    names = [u.name for u in data.USERS]
    found = {u.name: u for u in session.scalars(select(User).where(User.name.in_(names)))}
    existed = WALKTHROUGH_SALES in found
    joined = FrozenClock(now - timedelta(days=DAYS + 30))
    for u in data.USERS:
        if u.name not in found:
            found[u.name] = auth.create_user(session, u.name, [u.role], joined,
                                             display_name=u.display_name, email=u.email)
    return found, existed


def actors_of(users: Mapping[str, User]) -> dict[str | None, Actor]:
    """Who acts in the demo: back-office users on the web, the shop sync over the API, and
    the automation (None) for steps that domain events take."""
    actors: dict[str | None, Actor] = {
        name: auth.actor_of(user, "api" if name == "shop.sync" else "web")
        for name, user in users.items()}
    actors[None] = SYSTEM_ACTOR
    return actors


def apply_batch(session: Session, drafts: Sequence[Draft], actors: Mapping[str | None, Actor],
                clock: FrozenClock, settings: Settings,
                parcels: Sequence[OrderParcels | None] | None = None) -> list[str]:
    """Create a batch of orders and play their steps, round by round; returns the numbers.

    Each step runs what ``order.service.act`` runs: the planner decides (and refuses anything
    the flow or the roles forbid) and the service's own ``apply_plan`` writes stage, visits,
    timeline rows, approvals and outbox events. Only act's per-call overhead is shared: the
    batch's orders stay loaded, their open visits are read once a round and each round is
    flushed once. Calling act per step (about nine statements each) made a 3000-order demo
    four to five times slower; tests/demo checks that both write the same rows.

    ``parcels`` (aligned with ``drafts``): each order's parcels are created and their
    checkpoints ingested just before the order's step they precede in time, so every row an
    order gets is written in time order.
    """

    def ctx(user: str | None) -> Ctx:
        return Ctx(session=session, actor=actors[user], clock=clock, settings=settings)

    orders: list[Order] = []
    writer = ParcelWriter(session, actors, settings) if parcels is not None else None
    todo = list(parcels) if parcels is not None else [None] * len(drafts)
    for d in drafts:
        assert d.body is not None
        clock.set(d.created_at)
        orders.append(service.create_order(ctx(d.creator), d.body))
    for i in range(max((len(d.steps) for d in drafts), default=0)):
        session.flush()
        ids = [o.id for o, d in zip(orders, drafts, strict=True) if i < len(d.steps)]
        visits = {v.order_id: v for v in session.scalars(
            select(StageVisit).where(StageVisit.order_id.in_(ids), StageVisit.exited_at.is_(None))
            .order_by(StageVisit.id))}
        for order, d, op in zip(orders, drafts, todo, strict=True):
            if i >= len(d.steps):
                continue
            if writer is not None and op is not None:
                writer.play(order, op, i)
            step = d.steps[i]
            clock.set(step.at)
            c = ctx(step.user)
            _version, flow = service.flow_of(c, order)
            visit = visits.get(order.id)
            outcome = planner.plan(flow, service.state_of(c, order, flow, visit), c.actor,
                                   step.request)
            if isinstance(outcome, planner.Refusal):
                raise TransitionNotAllowed(outcome.message, status=outcome.status,
                                           code=outcome.code,
                                           current_stage=outcome.current_stage or order.stage)
            service.apply_plan(c, order, flow, visit, outcome, step.request)
    session.flush()
    if writer is not None:
        for order, op in zip(orders, todo, strict=True):
            if op is not None:
                writer.play(order, op, None)
        writer.finish()
        session.flush()
    return [o.order_no for o in orders]


def build_demo(engine: Engine, settings: Settings, orders: int, seed: int) -> DemoReport:
    """Fill the database with demo users and orders; on a demo database, only issue new keys."""
    started = time.perf_counter()
    now = SystemClock().now()
    factory = make_sessionmaker(engine)
    with write_session(factory) as session:
        users, existed = ensure_users(session, now)
        alerting.recording_channels(session, settings)
        keys = [UserKey(u.name, u.display_name, u.role,
                        auth.create_api_key(session, users[u.name], SystemClock(), "demo")[1])
                for u in data.USERS]
    actors = actors_of(users)
    created = 0
    if not existed:
        # First, and drained as it goes: the worker sees only these orders' events.
        ops = operations.build_operations(factory, settings, actors, now, seed)
    else:
        ops = operations.ops_report(factory, settings, now, seed)
    if not existed and orders > 0:
        rng = random.Random(seed)
        tz = ZoneInfo(settings.timezone)
        drafts = Planner(rng, now, tz).drafts(orders)
        parcels = plan_parcels(drafts, now, tz, seed)
        clock = FrozenClock(now)
        for start in range(0, len(drafts), BATCH):
            with write_session(factory) as session:
                apply_batch(session, drafts[start:start + BATCH], actors, clock, settings,
                            parcels[start:start + BATCH])
            created += len(drafts[start:start + BATCH])
    if not existed:
        with write_session(factory) as session:
            alerting.late_review_order(session, actors[LATE_CREATOR], settings, now)
        with write_session(factory) as session:
            # The demo's history happened before any worker ran: its events are not pending
            # work (a worker must not notify anyone about last month's shipments).
            session.execute(update(OutboxEvent).where(OutboxEvent.processed_at.is_(None))
                            .values(processed_at=OutboxEvent.created_at))
    with factory() as session:
        by_flow = dict(session.execute(
            select(Order.flow_id, func.count()).group_by(Order.flow_id)).all())
        spots = highlights(session, now)
        parcel_count = session.scalar(select(func.count()).select_from(Shipment)) or 0
        live = live_parcels(session, now)
        late = alerting.late_review(session)
    return DemoReport(users=keys, created=created, by_flow=Counter(by_flow),
                      seconds=time.perf_counter() - started, reused=existed, highlights=spots,
                      now=now, tz=settings.timezone, parcels=parcel_count,
                      live=live, late=late, ops=ops)
