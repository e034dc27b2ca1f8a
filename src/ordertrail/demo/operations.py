"""The demo's operations: stock, a factory, a supplier, and two make-to-order stories.

Master data first: two warehouses with stock of the shop's products, a hydraulic cylinder made
to order from four components (one of them, the seal kit, nearly out of stock), three work
centres with a routing, and the seal kits' supplier.

**The finished story** (order ``demo/ops-story``), played through the real services under a
clock set to each step's moment in working time, with the worker drained after every step so
stage actions, triggers and alerts happen as they would have:
sales accepts the order; entering material check plans the work order and reserves stock,
which is short of seal kits, so the order waits for stock; procurement orders the shortage; the
supplier confirms the date and gives the tracking number through the signed link (the page's
own code path); the inbound parcel's scans arrive as carrier pushes, its delivery receives the
kits into stock, which frees the material and moves the order to production; the work order
runs its routing, fails QC once (a leaking seal), is reworked and passes; the order ships, is
delivered, is invoiced, paid in two parts (a bank export, then a transfer recorded by hand) and
closes by itself. Waiting for the kits takes longer than material check's SLA: its alert fires.

**The live story** (order ``demo/ops-live``): another order of the same cylinder waits for seal
kits now; its purchase order has been sent. The walkthrough prints the supplier's link: confirm
the date and give a tracking number there, and the simulated carrier brings the parcel while
you watch; its delivery frees the material and the order moves to production.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.carrier.base import CarrierEvent, TrackingUpdate
from ordertrail.carrier.sim import journey as jr
from ordertrail.config import Settings
from ordertrail.context import Ctx
from ordertrail.db import write_session
from ordertrail.demo import data
from ordertrail.demo.shipments import tracking_number
from ordertrail.flow.planner import Actor, Advance
from ordertrail.jobs.worker import drain
from ordertrail.kit.clock import FrozenClock
from ordertrail.models import Order, Shipment
from ordertrail.models.production import WorkOrderStep

STORY_SOURCE = "demo/ops-story"
LIVE_SOURCE = "demo/ops-live"
PRODUCT = "MTO-HYD-63200"
SEAL_KIT = "RM-SEAL-K63"
SUPPLIER = "SUP-NBYF"
MAIN, SOUTH = "WH-SH", "WH-SZ"
# (sku, zh, en, unit, per cylinder, on hand in the main warehouse)
COMPONENTS: tuple[tuple[str, str, str, str, str, int], ...] = (
    ("RM-TUBE-63", "珩磨缸筒 Φ63", "Honed cylinder tube Ø63", "pcs", "1", 80),
    ("RM-ROD-36", "镀铬活塞杆 Φ36", "Chrome-plated piston rod Ø36", "pcs", "1", 60),
    (SEAL_KIT, "油缸密封件套装 63", "Cylinder seal kit 63", "set", "1", 4),
    ("RM-CAP-63", "油缸端盖 63", "Cylinder end cap 63", "pcs", "2", 200),
)
CENTRES = (("CNC", "数控机加工中心 CNC machining", 2), ("ASM", "装配线 Assembly line", 1),
           ("TEST", "试压台 Pressure test bench", 1))
ROUTING = (("机加工 Machining", "CNC", "30", "6"), ("装配 Assembly", "ASM", "20", "12"),
           ("试压 Pressure test", "TEST", "10", "5"))
STORY_QTY, LIVE_QTY = 20, 12


@dataclass(frozen=True)
class LiveStory:
    """What the walkthrough needs of the live story."""

    order_no: str
    po_no: str
    token: str
    tracking_number: str


@dataclass(frozen=True)
class OpsReport:
    story_order: str | None
    live: LiveStory | None


class Player:
    """Runs service calls as demo users at chosen moments, then lets the worker catch up."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings,
                 actors: dict[str | None, Actor], clock: FrozenClock) -> None:
        self.factory, self.settings, self.actors, self.clock = factory, settings, actors, clock

    def do(self, at: datetime, user: str | None, fn: Callable[[Ctx], Any]) -> Any:
        self.clock.set(at)
        with write_session(self.factory) as session:
            result = fn(Ctx(session, self.actors[user], self.clock, self.settings))
        drain(self.factory, self.clock, self.settings)
        return result


def master_data(play: Player, at: datetime, rng: random.Random) -> None:
    """Warehouses, products with stock, the cylinder's BOM and routing, the supplier."""
    from ordertrail.inventory import catalog
    from ordertrail.inventory import service as stock
    from ordertrail.inventory.schemas import (
        BomItem,
        MovementIn,
        MovementKind,
        ProductCreate,
        WarehouseCreate,
    )
    from ordertrail.procurement import service as purchasing
    from ordertrail.procurement.schemas import SupplierCreate
    from ordertrail.production import service as production
    from ordertrail.production.schemas import RoutingIn, RoutingStepIn, WorkCenterCreate

    def setup(ctx: Ctx) -> None:
        for code, name in ((MAIN, "上海总仓 Shanghai main warehouse"),
                           (SOUTH, "深圳仓 Shenzhen warehouse")):
            catalog.create_warehouse(ctx, WarehouseCreate(code=code, name=name))
        for sku, zh, _en, unit, _per, _qty in COMPONENTS:
            catalog.create_product(ctx, ProductCreate(sku=sku, name=zh, unit=unit))
        catalog.create_product(ctx, ProductCreate(
            sku=PRODUCT, name="液压油缸 63x200", unit="pcs", make_to_order=True,
            bom=[BomItem(sku=sku, qty=Decimal(per)) for sku, *_, per, _q in COMPONENTS]))
        for p in data.RETAIL_PRODUCTS:
            catalog.create_product(ctx, ProductCreate(sku=p.sku, name=p.zh))
        for code, name, capacity in CENTRES:
            production.create_work_center(ctx, WorkCenterCreate(code=code, name=name,
                                                                capacity=capacity))
        production.set_routing(ctx, PRODUCT, RoutingIn(steps=[
            RoutingStepIn(name=n, work_center=c, setup_minutes=Decimal(s),
                          minutes_per_unit=Decimal(m)) for n, c, s, m in ROUTING]))
        purchasing.create_supplier(ctx, SupplierCreate(
            code=SUPPLIER, name="宁波甬峰密封件有限公司", contact="陈立峰",
            email="sales@yongfeng-seal.example.cn", phone="0574-8765 4321", lead_time_days=5))

    def receipts(ctx: Ctx) -> None:
        for sku, _zh, _en, _unit, _per, qty in COMPONENTS:
            stock.move(ctx, MovementIn(kind=MovementKind.RECEIPT, sku=sku, warehouse=MAIN,
                                       qty=Decimal(qty), reason="期初库存 Opening stock"))
        for p in data.RETAIL_PRODUCTS:
            for code, lo, hi in ((MAIN, 40, 400), (SOUTH, 0, 150)):
                qty = rng.randint(lo, hi)
                if qty:
                    stock.move(ctx, MovementIn(kind=MovementKind.RECEIPT, sku=p.sku,
                                               warehouse=code, qty=Decimal(qty),
                                               reason="期初库存 Opening stock"))

    play.do(at, "zhou.min", setup)
    play.do(at + timedelta(minutes=20), "wang.qiang", receipts)


def _order_body(source: str, qty: int, promised: datetime, customer: dict[str, str]) -> Any:
    from ordertrail.order.schemas import OrderCreate

    return OrderCreate.model_validate({
        "flow": "make_to_order", "channel": "direct", "priority": "high",
        "external_source": "demo", "external_ref": source,
        "customer": customer,
        "lines": [{"sku": PRODUCT, "name": "液压油缸 63x200", "qty": qty,
                   "unit_price": "1850"}],
        "promised_at": promised.isoformat(),
        "custom": {"payment_terms": "月结30天", "drawing": "HT-63200-C rev.B"}})


def _journey(number: str, carrier: str, start: datetime, window: timedelta, seed: int,
             city: str) -> list[CarrierEvent]:
    """A simulated journey's scans, stretched to take ``window`` from ``start``."""
    j = jr.plan(number, carrier, start, scenario="normal", rates=jr.Rates(), seed=seed,
                destination_city=city)
    factor = window / j.events[-1].offset
    return [CarrierEvent(occurred_at=(start + e.offset * factor).replace(microsecond=0),
                         status=e.status, substatus=e.substatus, description=e.description,
                         code=e.code, location=e.location) for e in j.events]


def _pushes(play: Player, number: str, carrier: str, events: list[CarrierEvent]) -> None:
    """The carrier's pushes, each when it happened (worker drained after each)."""
    from ordertrail.shipment.ingest import ingest

    for event in events:
        update_ = TrackingUpdate(number, [event], courier=carrier)
        play.do(event.occurred_at, None,
                lambda ctx, u=update_: ingest(ctx, "sim", [u], "push"))


def _untrack(session: Session, numbers: list[str]) -> None:
    """History is not tracked live: nothing to register with the simulator or poll."""
    session.execute(update(Shipment).where(Shipment.tracking_number.in_(numbers))
                    .values(next_check_at=None, registered_at=None,
                            stopped_reason="demo history"))


class Working:
    """Moments in the factory's working time (the ``cn`` calendar)."""

    def __init__(self, session: Session) -> None:
        from ordertrail.calendar.service import get_calendar

        self.cal = get_calendar(session, "cn")

    def after(self, at: datetime, hours: float) -> datetime:
        return self.cal.add(at, hours * 3600).replace(microsecond=0)


def story(play: Player, start: datetime, rng: random.Random, seed: int,
          tz: ZoneInfo) -> str:
    """The finished make-to-order story; returns its order number."""
    from ordertrail.billing import imports
    from ordertrail.billing import service as billing
    from ordertrail.order import service as orders
    from ordertrail.procurement import links, suggest, supplier
    from ordertrail.procurement import service as purchasing
    from ordertrail.procurement.schemas import FromShortages
    from ordertrail.production import read as wo_read
    from ordertrail.production import service as production

    with play.factory() as session:
        work = Working(session)
    t = work.cal.next_working(start)
    customer = {"name": "常州恒拓液压设备有限公司", "phone": "13815093627",
                "email": "purchase@hengtuo-hyd.example.cn", "country": "CN",
                "province": "江苏", "city": "常州",
                "address": "常州市武进区湖塘镇长虹路 88 号"}
    body = _order_body(STORY_SOURCE, STORY_QTY, t + timedelta(days=14), customer)
    order = play.do(t, "li.na", lambda ctx: orders.create_order(ctx, body))
    no = order.order_no
    t = work.after(t, 1.5)
    play.do(t, "li.na", lambda ctx: orders.act(ctx, no, Advance(
        "material_check", "技术评审通过：图纸 HT-63200-C rev.B，交期 14 天")))
    # Entering material check planned the work order and reserved what is there: the seal
    # kits are short, so the order waits for stock. Procurement orders them.
    t = work.after(t, 1.2)
    po = play.do(t, "sun.li", lambda ctx: suggest.from_shortages(ctx, FromShortages(
        supplier=SUPPLIER, skus=[SEAL_KIT], note="急单，请优先排产")))
    po_no = po.po_no
    play.do(t + timedelta(minutes=5), "sun.li", lambda ctx: purchasing.mark_sent(ctx, po_no))
    with play.factory() as session:
        token, _exp = links.issue(session, play.settings, po.id, t)
    # The supplier answers through the link: the same calls as the page's forms.
    t = work.after(t, 2.5)

    def confirm(ctx: Ctx) -> None:
        access = supplier.check(ctx.session, ctx.settings, token, ctx.clock.now(), None)
        supplier.confirm(ctx, access, "已安排生产，按期发货")

    play.do(t, None, confirm)
    t = work.after(t, 7.5)
    number = tracking_number(rng, "sf", set())

    def ship(ctx: Ctx) -> None:
        access = supplier.check(ctx.session, ctx.settings, token, ctx.clock.now(), None)
        supplier.tracking(ctx, access, "sf", number)

    play.do(t, None, ship)
    inbound = _journey(number, "sf", t + timedelta(minutes=40), timedelta(hours=22), seed,
                       "上海")
    _pushes(play, number, "sf", inbound)   # delivery → receipt → material free → production
    t = work.after(inbound[-1].occurred_at, 1.0)
    with play.factory() as session:
        wo = wo_read.work_orders_of(session, order.id)[0]
    wo_no = wo.number
    play.do(t, "liu.yang", lambda ctx: production.start(ctx, wo_no))
    for seq, hours in ((1, 2.6), (2, 4.2), (3, 1.9)):
        t = work.after(t, hours)
        play.do(t, "liu.yang", lambda ctx, s=seq: production.complete_step(ctx, wo_no, s))
    t = work.after(t, 0.2)
    play.do(t, "liu.yang", lambda ctx: production.complete(ctx, wo_no))
    t = work.after(t, 1.5)
    play.do(t, "liu.yang", lambda ctx: production.record_qc(
        ctx, wo_no, "fail", "2 件试压保压时渗漏，更换密封圈后复检"))
    t = work.after(t, 2.0)
    with play.factory() as session:   # the rework step QC's failure added
        rework = list(session.scalars(select(WorkOrderStep.seq).where(
            WorkOrderStep.work_order_id == wo.id, WorkOrderStep.actual_finish.is_(None))
            .order_by(WorkOrderStep.seq)))
    for seq in rework:
        play.do(t, "liu.yang", lambda ctx, s=seq: production.complete_step(
            ctx, wo_no, s, "更换 2 套密封圈，重新装配"))
        t = work.after(t, 0.2)
    play.do(t, "liu.yang", lambda ctx: production.complete(ctx, wo_no))
    t = work.after(t, 1.0)
    play.do(t, "liu.yang", lambda ctx: production.record_qc(
        ctx, wo_no, "pass", "全检合格，保压 25MPa/5min 无渗漏"))
    # Outbound: the warehouse ships; the carrier's scans deliver it.
    t = work.after(t, 2.0)
    out_no = tracking_number(rng, "sf", {number})

    def dispatch(ctx: Ctx) -> None:
        from ordertrail.shipment import service as shipments
        from ordertrail.shipment.schemas import ShipmentCreate

        shipments.create_shipment(ctx, no, ShipmentCreate(tracking_number=out_no,
                                                          carrier="sf"))

    play.do(t, "wang.qiang", dispatch)
    outbound = _journey(out_no, "sf", t + timedelta(minutes=30), timedelta(hours=26),
                        seed + 1, "常州")
    _pushes(play, out_no, "sf", outbound)
    with write_session(play.factory) as session:
        _untrack(session, [number, out_no])
    # Finance invoices; the customer pays 30 % (seen in the bank export), then the rest.
    t = work.after(outbound[-1].occurred_at, 2.0)
    invoice = play.do(t, "he.jing", lambda ctx: billing.issue_invoice(ctx, no))
    total = Decimal(invoice.amount)
    first = (total * Decimal("0.3")).quantize(Decimal("0.01"))
    t = work.after(t, 16.0)
    local = t.astimezone(tz)
    export = ("交易日期,交易时间,收入金额,对方户名,交易流水号,摘要\n"
              f"{local:%Y-%m-%d},{local:%H:%M:%S},\"{first:,.2f}\",{customer['name']},"
              f"CMB{local:%Y%m%d}0042117,货款预付30% {no}\n").encode()
    play.do(t, "he.jing", lambda ctx: imports.import_payments(
        ctx, export, source="cmb", filename="招商银行流水.csv"))
    t = work.after(t, 18.0)
    play.do(t, "he.jing", lambda ctx: billing.record_payment(ctx, billing.PaymentRequest(
        amount=total - first, order_no=no, method="bank",
        reference=f"CMB{t.astimezone(tz):%Y%m%d}0051380", source="cmb",
        payer=customer["name"], note="尾款 70%")))
    return no


def live(play: Player, start: datetime, rng: random.Random, taken: set[str]) -> LiveStory:
    """An order waiting for seal kits now, with its purchase order sent to the supplier."""
    from ordertrail.order import service as orders
    from ordertrail.procurement import links, suggest
    from ordertrail.procurement import service as purchasing
    from ordertrail.procurement.schemas import FromShortages

    customer = {"name": "徐州重科工程机械有限公司", "phone": "13952274168",
                "email": "caigou@zhongke-cm.example.cn", "country": "CN",
                "province": "江苏", "city": "徐州"}
    t = start
    body = _order_body(LIVE_SOURCE, LIVE_QTY, t + timedelta(days=20), customer)
    order = play.do(t, "li.na", lambda ctx: orders.create_order(ctx, body))
    no = order.order_no
    t = t + timedelta(minutes=40)
    play.do(t, "li.na", lambda ctx: orders.act(ctx, no, Advance("material_check",
                                                                "评审通过")))
    t = t + timedelta(minutes=30)
    po = play.do(t, "sun.li", lambda ctx: suggest.from_shortages(ctx, FromShortages(
        supplier=SUPPLIER, skus=[SEAL_KIT])))
    po_no = po.po_no
    play.do(t + timedelta(minutes=3), "sun.li", lambda ctx: purchasing.mark_sent(ctx, po_no))
    with write_session(play.factory) as session:
        token, _exp = links.issue(session, play.settings, po.id, play.clock.now())
    return LiveStory(no, po_no, token, tracking_number(rng, "sf", taken))


def build_operations(factory: sessionmaker[Session], settings: Settings,
                     actors: dict[str | None, Actor], now: datetime, seed: int) -> OpsReport:
    """Master data, the finished story and the live one, on a new demo database (before the
    bulk history, so the worker drained here sees only these orders)."""
    rng = random.Random(seed + 5)
    tz = ZoneInfo(settings.timezone)
    clock = FrozenClock(now)
    play = Player(factory, settings, actors, clock)
    master_data(play, (now - timedelta(days=40)).replace(microsecond=0), rng)
    no = story(play, now - timedelta(days=30), rng, seed, tz)
    pending = live(play, now - timedelta(hours=2), rng, set())
    return OpsReport(no, pending)


def ops_report(factory: sessionmaker[Session], settings: Settings, now: datetime,
               seed: int) -> OpsReport:
    """The stories of an existing demo database: the live one while its order still waits
    for the supplier (with a fresh link)."""
    from ordertrail.models.procurement import PurchaseOrder, Supplier
    from ordertrail.procurement import links

    with write_session(factory) as session:
        def order_of(ref: str) -> Order | None:
            return session.scalar(select(Order).where(Order.external_source == "demo",
                                                      Order.external_ref == ref))

        done, waiting = order_of(STORY_SOURCE), order_of(LIVE_SOURCE)
        po = session.scalar(select(PurchaseOrder).join(
            Supplier, Supplier.id == PurchaseOrder.supplier_id).where(
            Supplier.code == SUPPLIER, PurchaseOrder.status.in_(("sent", "confirmed")),
            PurchaseOrder.shipment_id.is_(None)).order_by(PurchaseOrder.id.desc()))
        pending = None
        if waiting is not None and waiting.stage == "material_check" and po is not None:
            token, _exp = links.issue(session, settings, po.id, now)
            taken = set(session.scalars(select(Shipment.tracking_number)))
            number = tracking_number(random.Random(seed + now.toordinal()), "sf", taken)
            pending = LiveStory(waiting.order_no, po.po_no, token, number)
    return OpsReport(done.order_no if done else None, pending)
