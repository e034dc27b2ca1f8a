"""The demo database: what a new user sees first after `ordertrail demo`.

One small demo is built (with real commits) into the test database, on SQLite or PostgreSQL,
and shared by the tests of this module; it is wiped afterwards.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from ordertrail.api.deps import AppState
from ordertrail.app import create_app
from ordertrail.auth import service as auth
from ordertrail.config import Settings
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.db import begin_write, make_sessionmaker
from ordertrail.demo import data
from ordertrail.demo.alerting import demo_settings
from ordertrail.demo.generate import actors_of, apply_batch, build_demo, ensure_users
from ordertrail.demo.operations import LIVE_SOURCE, STORY_SOURCE
from ordertrail.demo.plan import Planner
from ordertrail.demo.report import EXTRACT, DemoReport
from ordertrail.demo.shipments import STOPPED, recognised
from ordertrail.flow import service as flows
from ordertrail.flow.definition import BUILTIN_ROLES
from ordertrail.flow.planner import Decide, Hold
from ordertrail.jobs.worker import drain
from ordertrail.kit.clock import FrozenClock, SystemClock
from ordertrail.models import (
    Approval,
    IdempotencyRecord,
    Order,
    OrderLine,
    OutboxEvent,
    Shipment,
    StageVisit,
    TimelineEntry,
    TrackingEvent,
    User,
)
from ordertrail.models.alert import Alert
from ordertrail.models.notify import Notification, RecordedMessage
from ordertrail.order import service
from ordertrail.sla.sweep import sweep
from tests.conftest import _wipe

ORDERS = 80
SEED = 7
NOT_DELIVERED = ("review", "material_check", "production", "qc", "outbound", "credit_approval",
                 "picking", "packed", "shipped")
CN_MOBILE = re.compile(r"^1[3-9]\d{9}$")
PARCEL_ROWS = ("parcel_exception", "delivery_failed")
AFTER_SHIPPING = ("shipped", "delivered", "invoiced", "paid", "closed", "completed")
# The operations stories (demo/operations.py) are played through the services, not the
# history's planner: the history's own rules below leave them out (their own tests follow).
OPS = (STORY_SOURCE, LIVE_SOURCE)


def _ops_ids(session: Session) -> set[int]:
    return set(session.scalars(select(Order.id).where(Order.external_ref.in_(OPS))))


def _history_shipments(session: Session) -> list[Shipment]:
    """The history's parcels: not inbound (no order), not the operations stories'."""
    ops = _ops_ids(session)
    return [s for s in session.scalars(select(Shipment).order_by(Shipment.id))
            if s.order_id is not None and s.order_id not in ops]


@pytest.fixture(scope="module")
def demo(engine: Engine, database_url: str) -> Iterator[tuple[DemoReport, Settings]]:
    _wipe(engine)
    flows.clear_cache()
    settings = Settings(database_url=database_url)
    yield build_demo(engine, settings, orders=ORDERS, seed=SEED), settings
    _wipe(engine)
    flows.clear_cache()


@pytest.fixture
def session(engine: Engine, demo: tuple[DemoReport, Settings]) -> Iterator[Session]:
    with make_sessionmaker(engine)() as s:
        yield s


def test_every_flow_has_orders_in_many_stages(session: Session) -> None:
    orders = session.scalars(select(Order)).all()
    # and the order late in review (demo/alerting.py), the two operations stories
    assert len(orders) == ORDERS + 3
    by_flow = Counter(o.flow_id for o in orders)
    assert set(by_flow) == {"retail", "make_to_order", "b2b_credit"}
    assert by_flow["retail"] > by_flow["make_to_order"] and by_flow["retail"] > by_flow[
        "b2b_credit"]
    in_progress = {(o.flow_id, o.stage) for o in orders if o.status in ("active", "on_hold")}
    assert len(in_progress) >= 10, in_progress
    assert {"retail", "make_to_order", "b2b_credit"} <= {flow for flow, _s in in_progress}


def test_timelines_are_chronological_and_never_in_the_future(
        session: Session, demo: tuple[DemoReport, Settings]) -> None:
    now = demo[0].now
    orders = {o.id: o for o in session.scalars(select(Order))}
    rows: dict[int, list[TimelineEntry]] = defaultdict(list)
    for row in session.scalars(select(TimelineEntry).order_by(TimelineEntry.id)):
        rows[row.order_id].append(row)
    for order_id, order in orders.items():
        times = [r.at for r in rows[order_id]]
        assert times == sorted(times), order.order_no
        assert rows[order_id][0].kind == "created" and times[0] == order.created_at
        assert now - timedelta(days=92) < order.created_at and times[-1] <= now
        # The carrier's rows (a lost parcel, a failed attempt) do not touch the order itself.
        own = [r.at for r in rows[order_id] if r.kind not in PARCEL_ROWS]
        assert order.updated_at == own[-1] or order.external_ref in OPS
        assert order.stage_entered_at <= now
        assert order.promised_at is not None and order.promised_at > order.created_at
    for visit in session.scalars(select(StageVisit)):
        assert visit.entered_at <= (visit.exited_at or now) <= now
    assert session.scalar(select(func.max(OutboxEvent.created_at))) <= now
    assert session.scalar(select(func.max(Approval.at))) <= now


def test_the_demo_history_is_not_pending_work(session: Session) -> None:
    """Events of the generated past are marked processed: no worker re-sends them."""
    from ordertrail.models import OutboxEvent

    total = session.scalar(select(func.count()).select_from(OutboxEvent))
    pending = session.scalar(select(func.count()).select_from(OutboxEvent)
                             .where(OutboxEvent.processed_at.is_(None)))
    assert total and total > 0
    assert pending == 0


def test_people_work_in_working_hours(session: Session) -> None:
    local = [r.at.astimezone(ZoneInfo("Asia/Shanghai")) for r in session.scalars(
        select(TimelineEntry).where(TimelineEntry.source == "web"))]
    assert local
    assert all(8 <= t.hour < 22 for t in local)
    office = [r.at.astimezone(ZoneInfo("Asia/Shanghai")) for r in session.scalars(
        select(TimelineEntry).where(TimelineEntry.role.in_(("finance", "manager"))))]
    assert office and all(t.weekday() < 5 and 9 <= t.hour < 18 for t in office)


def test_held_cancelled_late_and_finished_orders(session: Session,
                                                 demo: tuple[DemoReport, Settings]) -> None:
    now = demo[0].now
    orders = session.scalars(select(Order)).all()
    last = {}
    for row in session.scalars(select(TimelineEntry).order_by(TimelineEntry.id)):
        last[row.order_id] = row
    held = [o for o in orders if o.status == "on_hold"]
    assert held and all(last[o.id].kind == "hold" and last[o.id].note for o in held)
    cancelled = [o for o in orders if o.status == "cancelled"]
    assert cancelled and all(last[o.id].kind == "cancel" and last[o.id].note for o in cancelled)
    late = [o for o in orders if o.status == "active" and o.stage in NOT_DELIVERED
            and o.promised_at is not None and o.promised_at < now]
    assert late
    finished = [o for o in orders if o.status == "completed"]
    assert len(finished) > len(orders) // 3
    assert {o.stage for o in finished} <= {"completed", "closed"}


def test_big_b2b_orders_were_approved_by_finance_then_the_manager(session: Session) -> None:
    roles = {u.id: u.roles for u in session.scalars(select(User))}
    passed = session.scalars(select(Order).where(
        Order.flow_id == "b2b_credit", Order.stage.not_in(("review", "credit_approval",
                                                            "cancelled")))).all()
    assert passed
    big = 0
    for order in passed:
        last_round = max(v.visit_id for v in session.scalars(
            select(Approval).where(Approval.order_id == order.id)))
        votes = session.scalars(select(Approval).where(Approval.visit_id == last_round)
                           .order_by(Approval.id)).all()
        assert [v.decision for v in votes] == ["approve"] * len(votes)
        assert votes[0].level == 1 and "finance" in roles[votes[0].user_id]
        if order.total >= 200000:
            big += 1
            assert [v.level for v in votes] == [1, 2]
            assert "manager" in roles[votes[1].user_id] and votes[1].at >= votes[0].at
        else:
            assert [v.level for v in votes] == [1]
    assert big >= 1


def test_rejected_credit_is_resubmitted_with_a_note(session: Session) -> None:
    rejections = session.scalars(
        select(TimelineEntry).where(TimelineEntry.kind == "rejection")).all()
    assert rejections
    for rejection in rejections:
        assert rejection.role == "finance" and rejection.note
        later = session.scalars(select(TimelineEntry).where(
            TimelineEntry.order_id == rejection.order_id, TimelineEntry.at > rejection.at,
            TimelineEntry.to_stage == "credit_approval")).all()
        order = session.get(Order, rejection.order_id)
        assert later or (order is not None and order.stage == "review")


def test_customers_channels_and_lines_fit_each_flow(session: Session) -> None:
    cities = {(p, c) for p, c, _w, _d in data.CN_CITIES}
    channels = {"retail": {"tmall", "jd", "douyin", "pdd", "web"},
                "make_to_order": {"direct", "distributor"}, "b2b_credit": {"b2b"}}
    skus = {"retail": {p.sku for p in data.RETAIL_PRODUCTS},
            "make_to_order": {p.sku for p in data.MTO_PRODUCTS},
            "b2b_credit": {p.sku for p in data.B2B_PRODUCTS}}
    orders = [o for o in session.scalars(select(Order)) if o.external_ref not in OPS]
    for o in orders:
        assert o.channel in channels[o.flow_id]
        if o.customer_country == "CN":
            assert CN_MOBILE.match(o.customer_phone or ""), o.customer_phone
            assert (o.customer_province, o.customer_city) in cities
            assert o.currency == "CNY"
        else:
            assert (o.customer_phone or "").startswith("+") and o.currency == "USD"
        if o.flow_id == "b2b_credit":
            assert o.total >= 5000
    for flow_id, sku in session.execute(select(Order.flow_id, OrderLine.sku).join(
            OrderLine, OrderLine.order_id == Order.id)):
        assert sku in skus[flow_id]
    refs = [o.external_ref for o in orders if o.channel == "tmall"]
    assert all(r and r.isdigit() and len(r) == 19 for r in refs)


def _stage_times(session: Session) -> dict[int, dict[str, datetime]]:
    """When each order entered each stage (its last entry)."""
    out: dict[int, dict[str, datetime]] = defaultdict(dict)
    for order_id, stage, at in session.execute(
            select(TimelineEntry.order_id, TimelineEntry.to_stage, TimelineEntry.at)
            .where(TimelineEntry.to_stage.is_not(None)).order_by(TimelineEntry.id)):
        out[order_id][stage] = at
    return out


def test_every_shipped_order_has_its_parcels(session: Session,
                                             demo: tuple[DemoReport, Settings]) -> None:
    """Shipped orders have parcels, created at the shipped step; delivered orders' parcels
    were delivered before it; orders on the way still wait for one; nothing else has any."""
    now = demo[0].now
    entered = _stage_times(session)
    parcels: dict[int, list[Shipment]] = defaultdict(list)
    for s in _history_shipments(session):
        parcels[s.order_id].append(s)
    shipped = 0
    for order in session.scalars(select(Order).where(Order.id.not_in(_ops_ids(session)))):
        mine = parcels.get(order.id, [])
        if "shipped" not in entered[order.id]:
            assert not mine, order.order_no
            continue
        shipped += 1
        assert mine, order.order_no
        assert mine[0].created_at == entered[order.id]["shipped"]
        assert all(mine[0].created_at <= s.created_at <= now for s in mine)
        assert order.stage in AFTER_SHIPPING
        if "delivered" in entered[order.id]:
            done = entered[order.id]["delivered"]
            for s in mine:
                assert s.status == "delivered" and s.delivered_at is not None
                assert s.created_at < s.delivered_at < done, order.order_no
        else:
            assert order.stage == "shipped"
            assert not all(s.status == "delivered" for s in mine), order.order_no
    assert shipped > ORDERS // 2
    lots = [o for o, mine in parcels.items() if len(mine) > 1]
    assert lots, "some business orders ship in two lots"


def test_parcel_numbers_are_real_formats_of_their_carrier(session: Session) -> None:
    shipments = _history_shipments(session)
    for s in shipments:
        assert recognised(s.tracking_number, s.carrier), (s.carrier, s.tracking_number)
    carriers = {s.carrier for s in shipments}
    assert len(carriers) >= 5 and carriers & {"sf", "jd"}
    foreign = {s.carrier for s in shipments if s.destination_country != "CN"}
    assert foreign <= {"ups", "dhl", "fedex"}
    # The shipped step names the first parcel's number.
    notes = {t.order_id: t.note or "" for t in session.scalars(select(TimelineEntry).where(
        TimelineEntry.to_stage == "shipped"))}
    first: dict[int, Shipment] = {}
    for s in sorted(shipments, key=lambda s: s.id):
        first.setdefault(s.order_id, s)
    assert all(s.tracking_number in notes[order_id] for order_id, s in first.items())


def test_checkpoints_fit_between_the_steps_and_tell_the_order(
        session: Session, demo: tuple[DemoReport, Settings]) -> None:
    now = demo[0].now
    by_id = {s.id: s for s in _history_shipments(session)}
    counts: Counter[int] = Counter()
    for e in session.scalars(select(TrackingEvent).where(
            TrackingEvent.shipment_id.in_(list(by_id)))):
        s = by_id[e.shipment_id]
        assert s.created_at < e.occurred_at <= now and e.source == "import"
        assert e.received_at >= e.occurred_at
        counts[s.id] += 1
    for s in by_id.values():
        assert s.event_count == counts[s.id]
    lost = [s for s in by_id.values() if s.substatus == "exception.lost"]
    failed = [s for s in by_id.values() if s.status == "attempt_fail"]
    assert lost and failed, "the demo shows parcels lost and missed on the way"
    rows = {(t.order_id, t.kind, t.at) for t in session.scalars(
        select(TimelineEntry).where(TimelineEntry.kind.in_(PARCEL_ROWS)))}
    for s in lost:
        assert (s.order_id, "parcel_exception", s.last_event_at) in rows
    for s in failed:
        assert (s.order_id, "delivery_failed", s.last_event_at) in rows
    created = session.scalar(select(func.count()).select_from(TimelineEntry).where(
        TimelineEntry.kind == "shipment_created",
        TimelineEntry.order_id.not_in(_ops_ids(session))))
    assert created == len(by_id)


def test_no_historic_parcel_is_tracked_live(session: Session,
                                            demo: tuple[DemoReport, Settings]) -> None:
    """Nothing of the past is registered with the simulator or ever due for a poll."""
    from ordertrail.shipment import repository as shipments

    assert all(s.next_check_at is None and s.registered_at is None
               for s in session.scalars(select(Shipment)))   # the stories' parcels too
    rows = _history_shipments(session)
    assert rows and all(s.provider == "sim" and s.next_check_at is None
                        and s.registered_at is None and s.stopped_reason == STOPPED
                        for s in rows)
    assert shipments.due_for_check(session, demo[0].now + timedelta(days=3650), 10) == []


def test_replaying_the_checkpoints_changes_nothing(
        engine: Engine, demo: tuple[DemoReport, Settings]) -> None:
    """The stored checkpoints pushed again: every one is a duplicate, no status moves, no
    row or event is written (rolled back)."""
    from ordertrail.carrier.base import CarrierEvent, TrackingUpdate
    from ordertrail.context import SYSTEM_ACTOR
    from ordertrail.shipment.ingest import ingest

    settings = demo[1]
    with make_sessionmaker(engine)() as session:
        begin_write(session)
        try:
            before = {s.id: (s.status, s.substatus, s.event_count)
                      for s in session.scalars(select(Shipment))}
            rows = session.scalar(select(func.count()).select_from(TimelineEntry))
            outbox = session.scalar(select(func.count()).select_from(OutboxEvent))
            updates = []
            for s in session.scalars(select(Shipment)):
                events = tuple(CarrierEvent(e.occurred_at, e.status, e.substatus, e.description,
                                            e.code, e.location)
                               for e in shipments_events(session, s.id))
                updates.append(TrackingUpdate(s.tracking_number, events[::-1], s.carrier))
            ctx = Ctx(session, SYSTEM_ACTOR, FrozenClock(demo[0].now), settings)
            report = ingest(ctx, "sim", updates, "push")
            assert report.stored == 0 and report.changed == []
            assert report.duplicates == sum(len(u.events) for u in updates) > 0
            session.expire_all()
            assert {s.id: (s.status, s.substatus, s.event_count)
                    for s in session.scalars(select(Shipment))} == before
            assert session.scalar(select(func.count()).select_from(TimelineEntry)) == rows
            assert session.scalar(select(func.count()).select_from(OutboxEvent)) == outbox
        finally:
            session.rollback()


def shipments_events(session: Session, shipment_id: int) -> list[TrackingEvent]:
    return list(session.scalars(select(TrackingEvent).where(
        TrackingEvent.shipment_id == shipment_id).order_by(TrackingEvent.occurred_at)))


def test_rerun_adds_nothing_and_prints_working_keys(
        engine: Engine, session: Session, demo: tuple[DemoReport, Settings]) -> None:
    first, settings = demo
    before = session.scalar(select(func.count()).select_from(Order))
    users_before = session.scalar(select(func.count()).select_from(User))
    again = build_demo(engine, settings, orders=ORDERS, seed=SEED)
    session.rollback()  # end the read transaction: see what the second run committed
    assert again.reused and again.created == 0
    assert session.scalar(select(func.count()).select_from(Order)) == before
    assert session.scalar(select(func.count()).select_from(User)) == users_before
    text = again.render("http://127.0.0.1:8123")
    assert "http://127.0.0.1:8123/docs" in text
    last = text.splitlines()[-1]
    assert last.startswith("API key: ot_")
    key = last.removeprefix("API key: ")
    assert auth.authenticate(session, key).name == "li.na"
    assert {u.role for u in again.users} == set(BUILTIN_ROLES)
    for row in again.users:
        assert row.key in text and row.key not in first.render("x")
        assert row.role in auth.authenticate(session, row.key).roles
    for row in first.users:  # the keys printed the first time keep working
        assert auth.authenticate(session, row.key).name == row.name


def test_the_printed_walkthrough_works(engine: Engine, demo: tuple[DemoReport, Settings],
                                       ) -> None:
    """Every curl line of the walkthrough, run against the app (without a simulator the
    parcels are tracked by hand, but they are created and move the orders the same way)."""
    report, settings = demo
    assert len(report.live) == 2
    text = report.render("http://testserver", sim_url="http://127.0.0.1:8100")
    keys = dict(re.findall(r"^  (SALES|FINANCE|MANAGER|WAREHOUSE)=(\S+)", text, re.M))
    head = text.split("\nOperations:")[0]   # the operations stories have their own test
    commands = [line.strip() for line in head.splitlines() if "curl " in line]
    assert len(commands) == 21
    app = create_app(settings, state=AppState(engine=engine, factory=make_sessionmaker(engine),
                                              clock=SystemClock(), settings=settings))
    values: dict[str, str] = {}
    answers = []
    with TestClient(app) as client, _removed_afterwards(engine, report.now):
        # What the worker does every 30 s in the demo: the late review order's alerts open.
        factory = make_sessionmaker(engine)
        assert sweep(factory, SystemClock(), settings).overdue >= 1
        drain(factory, SystemClock(), demo_settings(settings))  # notifications go out
        for command in commands:
            who = re.search(r'Bearer \$(\w+)"', command)
            path = re.search(r'"\$BASE(/[^"]+)"', command)
            body = re.search(r"-d '([^']*)'", command)
            assert path, command
            url = re.sub(r"\$(NO|B2B|SHIP|AID)", lambda m: values[m.group(1)], path.group(1))
            headers = {"Content-Type": "application/json"}
            if who:
                headers["Authorization"] = f"Bearer {keys[who.group(1)]}"
            if "-X POST" in command:
                assert body
                r = client.post(url, content=body.group(1).encode(), headers=headers)
            else:
                r = client.get(url, headers=headers)
            answers.append(r)
            target = re.match(r"(NO|B2B|SHIP|AID)=\$\(", command)
            if target:
                name = target.group(1)
                assert r.status_code == (200 if name == "AID" else 201), r.text
                values[name] = _extract(r.text, {"SHIP": SHIP_ID, "AID": FIRST_ID}.get(
                    name, ORDER_NO), command)
    codes = [r.status_code for r in answers]
    assert codes == [201, 200, 403, 201, 200, 200, 200, 200, 201, 200, 200, 201, 200, 200,
                     200, 200, 200, 200, 200, 200, 200]
    assert "production" in answers[2].text.lower() and "sales" in answers[2].text
    assert answers[1].json()["stage"] == "material_check"
    assert answers[3].json()["total"] == "206300.00"
    assert answers[5].json()["stage"] == "credit_approval"  # finance approved, manager next
    assert answers[6].json()["stage"] == "picking"
    timeline = answers[7].json()["items"]
    assert [(i["kind"], i["actor"]) for i in timeline if i["kind"] == "approval"] == [
        ("approval", "he.jing"), ("approval", "chen.jianguo")]
    # The parcels: carriers detected from the numbers, the orders shipped at once.
    sf, lost = report.live
    shipment = answers[8].json()
    assert (shipment["carrier"], shipment["tracking_number"]) == ("sf", sf.number)
    assert shipment["detected"][0]["carrier"] == "sf"
    assert answers[9].json()["id"] == shipment["id"]
    assert answers[10].json()["order_no"] == sf.order_no
    assert answers[10].json()["stage"] == "shipped"
    assert answers[11].json()["carrier"] == "yto" and lost.scenario == "lost"
    kinds = [i["kind"] for i in answers[12].json()["items"]]
    assert kinds[-2:] == ["shipment_created", "transition"]
    assert answers[13].headers["content-type"].startswith("text/plain")
    assert "grep ^ordertrail_tracking_duplicates_total" in commands[13]
    # The late review order: overdue in the cn calendar, an alert for the service role.
    assert report.late is not None
    overdue = [a for a in answers[14].json()["items"] if a["kind"] == "stage_overdue"]
    assert overdue and overdue[0]["responsible_role"] == "service"
    assert overdue[0]["order_no"] == report.late.order_no
    logged = answers[15].json()["notifications"]
    assert any(n["channel"] == "record" and "已超时" in (n["subject"] or "") for n in logged)
    assert answers[18].json()["state"] == "acknowledged"


def test_the_walkthrough_parcels_travel_as_announced(demo: tuple[DemoReport, Settings]) -> None:
    """The SF number is one the simulator, by its own draw, delivers normally; both orders
    are waiting to ship and neither number is taken."""
    from ordertrail.carrier.sim import journey as jr
    from ordertrail.demo.live import SEED

    report, _settings = demo
    sf, lost = report.live
    assert recognised(sf.number, "sf") and recognised(lost.number, "yto")
    assert jr.plan(sf.number, "sf", report.now, seed=SEED, rates=jr.Rates()).scenario == "normal"
    assert sf.order_no != lost.order_no
    assert {sf.stage, lost.stage} <= {"packed", "outbound", "picking"}
    assert lost.scenario == "lost" and timedelta(0) < sf.length < lost.length


@contextmanager
def _removed_afterwards(engine: Engine, since: datetime) -> Iterator[None]:
    """Delete what the walkthrough adds, so the shared demo stays as built."""
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(delete(OutboxEvent).where(OutboxEvent.created_at > since))
            conn.execute(delete(Notification))
            conn.execute(delete(RecordedMessage))
            conn.execute(delete(Alert).where(Alert.opened_at > since))
            conn.execute(delete(TimelineEntry).where(TimelineEntry.at > since))
            conn.execute(delete(Shipment).where(Shipment.created_at > since))
            conn.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at > since))
            conn.execute(delete(Order).where(Order.created_at > since))


ORDER_NO = re.compile(r'"order_no":"([^"]*)"')
SHIP_ID = re.compile(r'^\{"id":(\d+)')
FIRST_ID = re.compile(r'^\{"items":\[\{"id":(\d+)')


def _extract(response: str, pattern: re.Pattern[str] = ORDER_NO, command: str = EXTRACT,
             ) -> str:
    """The value, taken from the response the way the printed command does."""
    found = pattern.search(response)
    assert found, response
    if shutil.which("sh") and shutil.which("sed"):
        sed = command[command.index("| sed ") + 2:].split(");")[0] if "| sed " in command \
            else command
        out = subprocess.run(["sh", "-c", sed], input=response, capture_output=True,
                             text=True, check=True).stdout.strip()
        assert out == found.group(1)
    return found.group(1)


# The planned demo, without the shared database ---------------------------------------------


def _drafts(seed: int, count: int) -> list[Any]:
    now = datetime(2026, 11, 21, 6, 30, tzinfo=UTC)
    return Planner(random.Random(seed), now, ZoneInfo("Asia/Shanghai")).drafts(count)


def test_same_seed_same_demo() -> None:
    def plain(drafts: list[Any]) -> list[Any]:
        return [(d.flow, d.created_at, d.body.model_dump(), d.steps) for d in drafts]

    assert plain(_drafts(3, 60)) == plain(_drafts(3, 60))
    assert plain(_drafts(3, 60)) != plain(_drafts(4, 60))


def test_demo_writes_exactly_what_the_order_service_writes(engine: Engine,
                                                            database_url: str) -> None:
    """apply_batch shares act's loading and flushing across a batch; the rows it writes must
    be those of calling service.act step by step. Both runs are rolled back."""
    settings = Settings(database_url=database_url)
    drafts = _drafts(11, 40)
    for d in drafts:  # the shared demo may hold the same references
        d.body = d.body.model_copy(update={"external_ref": None, "external_source": None})
    assert any(isinstance(s.request, Decide) for d in drafts for s in d.steps)
    assert any(isinstance(s.request, Hold) for d in drafts for s in d.steps)

    def build(batched: bool) -> dict[str, Any]:
        with make_sessionmaker(engine)() as session:
            begin_write(session)
            try:
                floor = session.scalar(select(func.max(Order.id))) or 0
                now = drafts[-1].created_at + timedelta(days=1)
                actors = actors_of(ensure_users(session, now)[0])
                clock = FrozenClock(now)
                if batched:
                    apply_batch(session, drafts, actors, clock, settings)
                else:
                    for d in drafts:
                        clock.set(d.created_at)
                        ctx = Ctx(session, actors[d.creator], clock, settings)
                        order_no = service.create_order(ctx, d.body).order_no
                        for step in d.steps:
                            clock.set(step.at)
                            service.act(Ctx(session, actors[step.user], clock, settings),
                                        order_no, step.request)
                session.flush()
                return _dump(session, floor)
            finally:
                session.rollback()

    batched, by_act = build(batched=True), build(batched=False)
    assert len(batched) == 40
    assert batched == by_act


def _dump(session: Session, floor: int) -> dict[str, Any]:
    """Everything written for the orders above id ``floor``, without ids."""
    names = {u.id: u.name for u in session.scalars(select(User))}
    out: dict[str, Any] = {}
    orders = {o.id: o for o in session.scalars(select(Order).where(Order.id > floor))}
    for o in orders.values():
        out[o.order_no] = {"order": (o.flow_id, o.stage, o.status, o.stage_entered_at,
                                     o.held_at, o.updated_at, o.total, o.row_version),
                           "timeline": [], "visits": [], "approvals": [], "events": []}
    ids = list(orders)
    for t in session.scalars(select(TimelineEntry).where(TimelineEntry.order_id.in_(ids))
                             .order_by(TimelineEntry.id)):
        out[orders[t.order_id].order_no]["timeline"].append(
            (t.at, t.kind, t.actor, t.role, t.from_stage, t.to_stage, t.note, t.source, t.data))
    for v in session.scalars(select(StageVisit).where(StageVisit.order_id.in_(ids))
                             .order_by(StageVisit.id)):
        out[orders[v.order_id].order_no]["visits"].append(
            (v.stage, v.entered_at, v.exited_at, v.exit_reason, v.held_seconds,
             v.responsible_role, v.sla_target))
    for a in session.scalars(select(Approval).where(Approval.order_id.in_(ids))
                             .order_by(Approval.id)):
        out[orders[a.order_id].order_no]["approvals"].append(
            (a.level, names[a.user_id], a.role, a.decision, a.comment, a.at))
    for e in session.scalars(select(OutboxEvent).where(
            OutboxEvent.aggregate_id.in_(list(out))).order_by(OutboxEvent.id)):
        out[e.aggregate_id]["events"].append((e.name, e.payload, e.created_at, e.processed_at))
    return out


# The operations stories (demo/operations.py) ---------------------------------------------

STORY = ["created", "transition:material_check", "work_orders_planned", "waiting_for_stock",
         "po_created", "po_confirmed", "po_shipped", "stock_reserved",
         "transition:production", "work_order_started", "work_order_completed",
         "transition:qc", "work_order_qc_failed", "transition:production",
         "work_order_completed", "transition:qc", "work_order_qc_passed",
         "transition:outbound", "shipment_created", "transition:shipped",
         "transition:delivered", "invoice_issued", "transition:invoiced", "payment_received",
         "payment_received", "transition:paid", "transition:closed"]


def test_the_finished_story_is_told_step_by_step(session: Session,
                                                 demo: tuple[DemoReport, Settings]) -> None:
    report, _settings = demo
    assert report.ops is not None and report.ops.story_order
    order = session.scalars(select(Order).where(
        Order.order_no == report.ops.story_order)).one()
    assert (order.stage, order.status) == ("closed", "completed")
    rows = list(session.scalars(select(TimelineEntry).where(
        TimelineEntry.order_id == order.id).order_by(TimelineEntry.at, TimelineEntry.id)))
    told = [f"{r.kind}:{r.to_stage}" if r.kind == "transition" else r.kind for r in rows]
    it = iter(told)
    missing = [step for step in STORY if step not in it]   # in this order, others between
    assert not missing, (missing, told)
    assert all(r.at <= report.now and r.actor for r in rows)
    by_kind = {r.kind: r for r in rows}
    assert by_kind["po_confirmed"].source == "supplier"
    assert by_kind["po_confirmed"].actor == "宁波甬峰密封件有限公司"
    assert by_kind["invoice_issued"].actor == "he.jing"
    assert by_kind["work_order_started"].actor == "liu.yang"
    moves = {r.to_stage: r for r in rows if r.kind == "transition"}
    for stage in ("production", "qc", "outbound", "shipped", "delivered", "invoiced", "paid",
                  "closed"):
        assert moves[stage].role == "system", stage   # moved by itself, by its trigger
    assert moves["material_check"].actor == "li.na"
    # Waiting for the seal kits took longer than material check's SLA: its alert fired.
    kinds = {a.kind for a in session.scalars(select(Alert).where(
        Alert.order_no == order.order_no))}
    assert {"stage_overdue", "work_order_late"} <= kinds


def test_the_live_story_waits_until_the_supplier_ships(engine: Engine,
                                                       demo: tuple[DemoReport, Settings],
                                                       ) -> None:
    """The walkthrough's supplier steps, through the app; the inbound parcel's scans come
    as pushes (the simulator plays them in the demo itself)."""
    from ordertrail.carrier.base import CarrierEvent, TrackingUpdate
    from ordertrail.db import write_session
    from ordertrail.shipment.ingest import ingest

    report, settings = demo
    assert report.ops is not None and report.ops.live is not None
    live = report.ops.live
    text = report.render("http://testserver", sim_url="http://127.0.0.1:8100")
    ops = text.split("\nOperations:")[1]
    assert f"/supplier/po?t={live.token}" in ops and live.tracking_number in ops
    sales = next(u.key for u in report.users if u.role == "sales")
    auth_ = {"Authorization": f"Bearer {sales}"}
    app = create_app(settings, state=AppState(engine=engine, factory=make_sessionmaker(engine),
                                              clock=SystemClock(), settings=settings))
    factory = make_sessionmaker(engine)
    with TestClient(app) as client:
        waiting = client.get(f"/api/v1/orders/{live.order_no}/reservations", headers=auth_)
        assert waiting.status_code == 200, waiting.text
        assert "RM-SEAL-K63" in waiting.text
        page = client.get(f"/supplier/po?t={live.token}")
        assert page.status_code == 200 and live.po_no in page.text
        r = client.post("/supplier/po/confirm", data={"t": live.token, "note": "按期发货"},
                        follow_redirects=False)
        assert r.status_code == 303, r.text
        r = client.post("/supplier/po/tracking", data={
            "t": live.token, "carrier": "sf", "tracking_number": live.tracking_number},
            follow_redirects=False)
        assert r.status_code == 303, r.text
        tampered = client.post("/supplier/po/confirm", data={"t": live.token[:-2] + "xx"},
                               follow_redirects=False)
        assert tampered.status_code == 403
        now = SystemClock().now()
        scans = [("in_transit", "in_transit.picked_up", "【宁波市】已揽收", now),
                 ("delivered", "delivered.signed", "【上海市】已签收", now + timedelta(seconds=1))]
        update_ = TrackingUpdate(live.tracking_number, [
            CarrierEvent(occurred_at=at, status=st, substatus=sub, description=d, code=None,
                         location=None) for st, sub, d, at in scans], courier="sf")
        with write_session(factory) as s:
            ingest(Ctx(s, SYSTEM_ACTOR, SystemClock(), settings), "sim", [update_], "push")
        drain(factory, SystemClock(), settings)
        order = client.get(f"/api/v1/orders/{live.order_no}", headers=auth_).json()
        assert order["stage"] == "production", order
        timeline = client.get(f"/api/v1/orders/{live.order_no}/timeline?parcels=false",
                              headers=auth_).json()["items"]
        kinds = [i["kind"] for i in timeline]
        assert {"po_confirmed", "po_shipped", "stock_reserved"} <= set(kinds)
