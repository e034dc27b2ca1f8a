"""One order's story as steps in time: each flow's stages in order, at working moments.

A script never looks at the database: it lists who does what and when, stopping at 'now'.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from ordertrail.demo import data
from ordertrail.flow.planner import Advance, Cancel, Decide, Hold, Request, Resume, Trigger
from ordertrail.order.schemas import OrderCreate

if TYPE_CHECKING:
    from ordertrail.demo.plan import Planner

BIG = Decimal(200000)  # b2b_credit: the general manager approves orders from this total

# Working hours in local time: (opens, closes, weekdays open; Monday is 0).
SHOP, OFFICE, FACTORY, COURIER = "shop", "office", "factory", "courier"
SHIFTS = {SHOP: (8.5, 22.0, range(7)), OFFICE: (9.0, 18.0, range(5)),
          FACTORY: (8.0, 20.0, range(6)), COURIER: (8.0, 21.0, range(7))}
# Who puts an order on hold (and resumes it): per flow, or per (flow, stage).
HOLDER = {"retail": "service", "make_to_order": "sales", "b2b_credit": "sales",
          ("make_to_order", "production"): "production", ("make_to_order", "qc"): "production",
          ("b2b_credit", "credit_approval"): "finance"}


@dataclass
class Step:
    at: datetime
    user: str | None  # demo user name; None is the automation
    request: Request


@dataclass
class Draft:
    """One order before it exists: who, what, when, and the story it will go through."""

    flow: str
    created_at: datetime
    foreign: bool
    kind: str = "normal"  # normal, cancel, hold, hold_now, stuck, slow
    stage: str | None = None  # where the story of `kind` happens
    reject: bool = False  # b2b_credit: rejected once at credit approval, then resubmitted
    rework: bool = False  # make_to_order: fails QC once
    big: bool = False  # b2b_credit: at least BIG, so two approval levels
    keep: bool = False  # carries a story the demo must show: never cut short
    promised_at: datetime | None = None
    creator: str = ""
    body: OrderCreate | None = None
    steps: list[Step] = field(default_factory=list)
    # (stage, number of steps that bring the order there), in order; and where it ends up
    entries: list[tuple[str, int]] = field(default_factory=list)
    finished: bool = False  # completed, closed or cancelled by 'now'

    @property
    def en(self) -> bool:
        return self.foreign


class Stop(Exception):
    """The next step would happen after 'now': the order stays where it is."""


class Script:
    """The steps of one order, each at a working moment after the one before, until now."""

    def __init__(self, p: Planner, d: Draft) -> None:
        self.p, self.d, self.rng = p, d, p.rng
        self.t = d.created_at
        self.steps: list[Step] = []
        self.slow: str | None = None  # the stage this order is slow to leave
        self.played = False
        self.cancelled = False
        self.entries: list[tuple[str, int]] = []

    def do(self, delay: timedelta, shift: str | None, user: str | None, req: Request) -> None:
        """Add a step `delay` after the last one (at the next working moment), or Stop."""
        if self.slow:
            delay *= self.rng.uniform(4, 9)
            note = self.p.say(self.d, self.rng.choice(data.SLOW_NOTES[self.slow]))
            if isinstance(req, Advance | Trigger) and req.note is None:
                req = replace(req, note=note)
            elif isinstance(req, Decide) and req.comment is None:
                req = replace(req, comment=note)
            self.slow = None
        at = self.p.open_at(self.t + delay, shift)
        if at >= self.p.now:
            raise Stop
        self.t = at
        self.steps.append(Step(at, user, req))

    def note(self, pairs: tuple[tuple[str, str], ...], chance: float) -> str | None:
        """Sometimes a note, in the customer's language."""
        if self.rng.random() >= chance:
            return None
        return self.p.say(self.d, self.rng.choice(pairs))

    def mark(self, stage: str) -> None:
        """The steps so far bring the order to this stage."""
        self.entries.append((stage, len(self.steps)))

    def enter(self, stage: str, shift: str | None) -> None:
        """The order has entered a stage: play the order's story if it happens here."""
        self.mark(stage)
        d, p = self.d, self.p
        if d.stage != stage or self.played:
            return
        self.played = True
        if d.kind == "stuck":
            raise Stop
        if d.kind == "slow":
            self.slow = stage
        elif d.kind == "cancel":
            note = p.say(d, self.rng.choice(data.CANCEL_NOTES[d.flow]))
            who = p.who("service") if d.flow == "retail" else p.who("sales", d)
            self.do(p.hours(0.2, 20), shift, who, Cancel(note))
            self.cancelled = True
            raise Stop
        elif d.kind in ("hold", "hold_now"):
            _stages, zh, en = self.rng.choice(
                [n for n in data.HOLD_NOTES[d.flow] if stage in n[0]])
            held, resumed = en if d.en else zh
            user = p.who(HOLDER.get((d.flow, stage)) or HOLDER[d.flow], d)
            self.do(p.hours(0.1, 6), shift, user, Hold(held))
            wait = p.days(300, 400) if d.kind == "hold_now" else p.hours(3, 96)
            self.do(wait, shift, user, Resume(resumed))

    def ship_note(self, bulk: bool) -> str:
        """The carrier and tracking number (or bill of lading) a shipment leaves with."""
        rng, d = self.rng, self.d
        if d.foreign:
            if bulk:
                return rng.choice((f"COSCO B/L COSU{rng.randrange(10**10):010d}",
                                   f"Maersk B/L {rng.randrange(2 * 10**8, 3 * 10**8)}"))
            return rng.choice((f"DHL Express {rng.randrange(10**10):010d}",
                               f"FedEx {rng.randrange(7 * 10**11, 8 * 10**11)}"))
        if bulk:
            return rng.choice((f"德邦快运 DPK{rng.randrange(10**12):012d}",
                               f"顺丰快运 SF{rng.randrange(10**13):013d}",
                               f"专车配送 粤B·D{rng.randrange(10**5):05d}"))
        return rng.choices((f"顺丰速运 SF{rng.randrange(10**13):013d}",
                            f"中通快递 78{rng.randrange(10**12):012d}",
                            f"圆通速递 YT{rng.randrange(10**13):013d}",
                            f"京东物流 JDVC{rng.randrange(10**11):011d}",
                            f"极兔速递 JT{rng.randrange(10**13):013d}"), (30, 25, 15, 20, 10))[0]

    def retail(self) -> None:
        """Paid online: review, pick, pack, hand to the courier, delivered, confirmed."""
        p, d = self.p, self.d
        self.enter("review", SHOP)
        self.do(p.hours(0.05, 2), SHOP, p.who("service"), Advance("picking"))
        self.enter("picking", SHOP)
        self.do(p.hours(0.3, 5), SHOP, p.who("warehouse"), Advance("packed"))
        self.enter("packed", SHOP)
        self.do(p.hours(0.3, 6), SHOP, None, Trigger("shipment.created", self.ship_note(False)))
        self.enter("shipped", COURIER)
        transit = p.days(5, 12) if d.foreign else p.days(0.7, 3.5)
        delivered = (("已签收，本人签收", "Delivered, signed by the recipient"),
                     ("快递柜代收", "Left in a parcel locker"),
                     ("驿站代收", "Left at the pick-up point"))
        self.do(transit, COURIER, None, Trigger("shipment.all_delivered",
                                                self.note(delivered, 0.6)))
        self.enter("delivered", None)
        confirmed = (("买家确认收货", "Buyer confirmed receipt"),
                     ("超时自动确认收货", "Receipt confirmed automatically after 10 days"))
        self.do(p.days(0.3, 10), None, None, Trigger("order.receipt_confirmed",
                                                     self.note(confirmed, 0.8)))

    def make_to_order(self) -> None:
        """Accepted, materials checked, produced (maybe reworked), inspected, shipped, paid."""
        p, d, rng = self.p, self.d, self.rng
        self.enter("review", OFFICE)
        accepted = (("技术评审通过，交期确认", "Technical review passed, delivery date agreed"),
                    ("图纸与报价已确认", "Drawing and quotation confirmed"))
        self.do(p.hours(0.5, 8), OFFICE, p.who("sales", d),
                Advance("material_check", self.note(accepted, 0.4)))
        self.enter("material_check", FACTORY)
        self.do(p.hours(2, 40), FACTORY, p.who(rng.choice(("warehouse", "production"))),
                Advance("production", self.note((("物料齐套", "All materials in stock"),), 0.3)))
        for attempt in range(2):
            self.enter("production", FACTORY)
            # The history's orders have no work orders (the operations story in
            # demo/operations.py has real ones): production reports completion by hand.
            # (Draws as before this step changed: the same seed gives the same demo.)
            rng.randint(10000, 99999)
            done = p.days(2, 9) if attempt == 0 else p.days(1, 3)
            self.do(done, FACTORY, p.roles["production"][0],
                    Advance("qc", p.say(d, ("生产完工，送检", "Production done, sent to QC"))))
            self.enter("qc", FACTORY)
            if d.rework and attempt == 0:
                self.do(p.hours(2, 20), FACTORY, p.who("production"),
                        Advance("production", p.say(d, rng.choice(data.REWORK_NOTES))))
                continue
            break
        passed = (("抽检合格 AQL 1.0", "Sampling inspection passed, AQL 1.0"),
                  ("全检合格，附检验报告", "100% inspected, report attached"))
        self.do(p.hours(2, 30), FACTORY, p.who("production"),
                Advance("outbound", self.note(passed, 0.5)))
        self.enter("outbound", FACTORY)
        self.do(p.hours(4, 48), FACTORY, None, Trigger("shipment.created", self.ship_note(True)))
        self.finish(p.days(15, 35) if d.foreign else p.days(1, 4))

    def b2b_credit(self) -> None:
        """On credit: finance approves (maybe after a rejection), the GM too if it is big."""
        p, d, rng = self.p, self.d, self.rng
        assert d.body is not None
        big = _total(d.body) >= BIG
        self.enter("review", OFFICE)
        self.do(p.hours(0.5, 8), OFFICE, p.who("sales", d), Advance("credit_approval"))
        self.enter("credit_approval", OFFICE)
        if d.reject:
            self.do(p.hours(1, 24), OFFICE, p.who("finance"),
                    Decide("reject", p.say(d, rng.choice(data.REJECT_NOTES))))
            self.mark("review")
            self.do(p.days(1, 5), OFFICE, p.who("sales", d),
                    Advance("credit_approval", p.say(d, rng.choice(data.RESUBMIT_NOTES))))
            self.mark("credit_approval")
        self.do(p.hours(1, 24), OFFICE, p.who("finance"),
                Decide("approve", self.note(data.APPROVE_NOTES, 0.5)))
        if big:
            self.do(p.hours(2, 40), OFFICE, p.who("manager"),
                    Decide("approve", self.note(data.GM_NOTES, 0.6)))
        self.enter("picking", FACTORY)
        self.do(p.days(0.3, 3), FACTORY, None, Trigger("shipment.created", self.ship_note(True)))
        self.finish(p.days(18, 40) if d.foreign else p.days(1, 5))

    def finish(self, transit: timedelta) -> None:
        """Shipped to closed: delivery, invoice, payment on credit terms, close."""
        p, d, rng = self.p, self.d, self.rng
        self.enter("shipped", COURIER)
        self.do(transit, COURIER, None, Trigger("shipment.all_delivered", self.note(
            (("客户仓库已签收", "Received at the customer's warehouse"),), 0.5)))
        self.enter("delivered", OFFICE)
        self.do(p.days(0.5, 5), OFFICE, None, Trigger("invoice.issued", p.say(d, (
            f"增值税专用发票 No.{rng.randrange(10**8):08d}",
            f"Commercial invoice CI-{rng.randrange(10**5):05d}"))))
        self.enter("invoiced", OFFICE)
        self.do(p.days(12, 60), OFFICE, None, Trigger("payment.fully_paid", p.say(d, (
            "银行回款已到账", "Payment received by T/T"))))
        self.enter("paid", OFFICE)
        self.do(p.days(0.1, 3), OFFICE, p.who("finance"), Advance("closed"))


def _total(body: OrderCreate) -> Decimal:
    sub = sum((ln.qty * ln.unit_price for ln in body.lines), Decimal(0))
    return (sub + body.shipping_fee - body.discount).quantize(Decimal("0.01"))
