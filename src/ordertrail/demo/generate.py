"""Build the demo database: users with keys, and months of orders moved by the real services.

Every order is first planned in memory (creation, then each step at a realistic time, until
'now'), then created and moved with ``order.service`` under a frozen clock set to each step's
time, so its timeline, stage visits, approvals and outbox events are exactly what the system
would have written. Orders are applied in batches, one transaction each.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ordertrail.auth import service as auth
from ordertrail.config import Settings
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.db import make_sessionmaker, write_session
from ordertrail.demo import data
from ordertrail.demo.report import DemoReport, UserKey, highlights
from ordertrail.errors import TransitionNotAllowed
from ordertrail.flow import planner
from ordertrail.flow.planner import Actor, Advance, Cancel, Decide, Hold, Request, Resume, Trigger
from ordertrail.kit.clock import FrozenClock, SystemClock
from ordertrail.models import Order, StageVisit, User
from ordertrail.order import service
from ordertrail.order.schemas import OrderCreate

DAYS = 90
WALKTHROUGH_SALES = "li.na"  # present means: the demo was built in this database already
BATCH = 100
BIG = Decimal(200000)  # b2b_credit: the general manager approves orders from this total
CREDIT_MIN = Decimal(5000)  # b2b_credit: orders on credit start here
USD_RATE = Decimal("7.2")
FLOW_MIX = {"retail": 70, "make_to_order": 17, "b2b_credit": 13}
FOREIGN_SHARE = {"retail": 0.04, "make_to_order": 0.2, "b2b_credit": 0.15}
RETAIL_CHANNELS = {"tmall": 35, "jd": 25, "douyin": 20, "pdd": 10, "web": 10}
PRIORITIES = {
    "retail": {"low": 5, "normal": 85, "high": 8, "urgent": 2},
    "make_to_order": {"low": 5, "normal": 65, "high": 22, "urgent": 8},
    "b2b_credit": {"low": 5, "normal": 70, "high": 20, "urgent": 5},
}
TAGS = {
    "retail": ("vip", "gift", "fragile", "first_order", "presale"),
    "make_to_order": ("sample", "first_article", "rush", "repeat_order", "rohs"),
    "b2b_credit": ("framework_contract", "key_account", "vat_invoice", "new_customer"),
}
# Stages where a special story may happen, per flow (all within the flow's hold/cancel rules).
CANCEL_AT = {"retail": ("review", "review", "picking", "packed"),
             "make_to_order": ("review", "material_check", "production"),
             "b2b_credit": ("review", "credit_approval", "picking")}
HOLD_AT = {"retail": ("review", "picking", "picking", "packed"),
           "make_to_order": ("review", "material_check", "production", "production", "qc"),
           "b2b_credit": ("review", "credit_approval", "picking")}
STUCK_AT = {"retail": ("picking", "packed", "shipped"),
            "make_to_order": ("material_check", "production", "production", "qc", "outbound"),
            "b2b_credit": ("credit_approval", "picking", "shipped")}
SLOW_AT = {"retail": ("picking", "shipped"),
           "make_to_order": ("material_check", "production", "shipped"),
           "b2b_credit": ("credit_approval", "picking", "shipped")}
# Who puts an order on hold (and resumes it): per flow, or per (flow, stage).
HOLDER = {"retail": "service", "make_to_order": "sales", "b2b_credit": "sales",
          ("make_to_order", "production"): "production", ("make_to_order", "qc"): "production",
          ("b2b_credit", "credit_approval"): "finance"}

# Working hours in local time: (opens, closes, weekdays open; Monday is 0).
SHOP, OFFICE, FACTORY, COURIER = "shop", "office", "factory", "courier"
SHIFTS = {SHOP: (8.5, 22.0, range(7)), OFFICE: (9.0, 18.0, range(5)),
          FACTORY: (8.0, 20.0, range(6)), COURIER: (8.0, 21.0, range(7))}
RETAIL_HOURS = (1, .5, .3, .2, .2, .3, .6, 1, 1.5, 2, 2.6, 2.5, 2.2, 2.2, 2.3, 2.3, 2.2, 2, 2,
                2.4, 3, 3.4, 3, 2)
OFFICE_HOURS = (0,) * 9 + (2, 3, 3, 1, 2, 3, 3, 2.5, 1.5) + (0,) * 6


def _golden_week(day: date) -> bool:
    return day.month == 10 and day.day <= 7


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


class _Stop(Exception):
    """The next step would happen after 'now': the order stays where it is."""


class Planner:
    """Plans orders in memory; every random choice comes from one seeded generator."""

    def __init__(self, rng: random.Random, now: datetime, tz: ZoneInfo) -> None:
        self.rng, self.now, self.tz = rng, now, tz
        self.roles: dict[str, list[str]] = {}
        for u in data.USERS:
            if u.name != "shop.sync":
                self.roles.setdefault(u.role, []).append(u.name)
        self.erp_no = rng.randint(3000, 6000)
        self.pools: dict[str, list[data.Customer]] = {}

    # time ------------------------------------------------------------------------------

    def open_at(self, t: datetime, shift: str | None) -> datetime:
        """The first moment at or after t when people on this shift work."""
        if shift is None:
            return t
        opens, closes, days = SHIFTS[shift]
        local = t.astimezone(self.tz)
        for _ in range(14):
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
            open_day = local.weekday() in days and not (shift == OFFICE
                                                         and _golden_week(local.date()))
            if open_day:
                start = midnight + timedelta(hours=opens)
                if local < start:
                    # Work that waited overnight is done through the morning, not all at once.
                    jitter = timedelta(hours=self.rng.triangular(0, 4, 0.5))
                    return (start + jitter).astimezone(UTC)
                if local < midnight + timedelta(hours=closes):
                    return local.astimezone(UTC)
            local = midnight + timedelta(days=1)
        return t

    def hours(self, lo: float, hi: float) -> timedelta:
        return timedelta(hours=self.rng.triangular(lo, hi, lo + (hi - lo) * 0.3))

    def days(self, lo: float, hi: float) -> timedelta:
        return self.hours(lo * 24, hi * 24)

    def creation_times(self, count: int) -> list[tuple[str, datetime]]:
        """(flow, created_at) for count orders over the last DAYS days, oldest first."""
        rng, today = self.rng, self.now.astimezone(self.tz).date()
        days = [today - timedelta(days=n) for n in range(DAYS, -1, -1)]
        weights: dict[str, list[float]] = {}
        for flow in FLOW_MIX:
            weights[flow] = []
            for d in days:
                w = 1.0 + 0.3 * (d - days[0]).days / DAYS  # a business that grows a little
                if flow == "retail":
                    w *= 1.2 if d.weekday() >= 5 else 1.0
                    if d.month == 11 and d.day == 11:
                        w *= 6
                    elif (d.month, d.day) >= (10, 31) and (d.month, d.day) <= (11, 13):
                        w *= 1.8
                elif d.weekday() >= 5 or _golden_week(d):
                    w *= 0.05
                weights[flow].append(w)
        out = []
        flows = rng.choices(list(FLOW_MIX), list(FLOW_MIX.values()), k=count)
        for flow in flows:
            hours = RETAIL_HOURS if flow == "retail" else OFFICE_HOURS
            for _ in range(50):
                d = rng.choices(days, weights[flow])[0]
                hour = rng.choices(range(24), hours)[0]
                local = datetime(d.year, d.month, d.day, hour, rng.randrange(60),
                                 rng.randrange(60), tzinfo=self.tz)
                at = local.astimezone(UTC)
                if at < self.now - timedelta(minutes=10):
                    break
            out.append((flow, at))
        out.sort(key=lambda item: item[1])
        return out

    # stories ---------------------------------------------------------------------------

    def drafts(self, count: int) -> list[Draft]:
        rng = self.rng
        out = []
        for flow, at in self.creation_times(count):
            d = Draft(flow, at, rng.random() < FOREIGN_SHARE[flow])
            r = rng.random()
            if r < (0.05 if flow == "retail" else 0.04):
                d.kind, d.stage = "cancel", rng.choice(CANCEL_AT[flow])
            elif r < 0.09:
                d.kind, d.stage = "hold", rng.choice(HOLD_AT[flow])
            elif r < 0.15:
                d.kind, d.stage = "slow", rng.choice(SLOW_AT[flow])
            d.reject = flow == "b2b_credit" and rng.random() < 0.12
            d.rework = flow == "make_to_order" and rng.random() < 0.08
            d.big = flow == "b2b_credit" and rng.random() < 0.3
            d.promised_at = self.promise(d)
            out.append(d)
        self.ensure_stories(out)
        for d in out:
            d.body = self.body(d)
            self.script(d)
        self.ensure_every_stage(out)
        return out

    def ensure_stories(self, drafts: list[Draft]) -> None:
        """Make sure even a small demo shows every situation a user should see."""
        rng, now, n = self.rng, self.now, len(drafts)

        def pick(candidates: list[Draft], want: int) -> list[Draft]:
            return rng.sample(candidates, max(0, min(want, len(candidates))))

        def age(d: Draft) -> timedelta:
            return now - d.created_at

        # On hold now: the first at the flow's first stage, which every order has reached.
        recent = [d for d in drafts if d.kind == "normal"
                  and timedelta(days=4) < age(d) < timedelta(days=14)]
        for i, d in enumerate(pick(recent, max(2, n // 120))):
            d.kind, d.stage = "hold_now", HOLD_AT[d.flow][0] if i == 0 else rng.choice(
                HOLD_AT[d.flow])
        # Stuck, hence late: only orders whose promised time has passed.
        overdue = [d for d in drafts if d.kind == "normal" and d.promised_at is not None
                   and d.promised_at < now - timedelta(days=1) and age(d) > timedelta(days=8)]
        for d in pick(overdue, max(2, n // 100)):
            d.kind, d.stage = "stuck", rng.choice(STUCK_AT[d.flow])
        cancels = [d for d in drafts if d.kind == "cancel" and age(d) > timedelta(days=4)]
        old = [d for d in drafts if d.kind == "normal" and age(d) > timedelta(days=2)]
        for d in pick(old, 2 - len(cancels)):
            d.kind, d.stage = "cancel", CANCEL_AT[d.flow][0]
        b2b = [d for d in drafts if d.flow == "b2b_credit" and d.kind in ("normal", "slow")
               and now - d.created_at > timedelta(days=10)]
        for d in pick([d for d in b2b if d.reject] or b2b, 1):
            d.reject = d.keep = True
        big = [d for d in b2b if d.big and not d.keep]
        for d in pick(big if len(big) >= 2 else [d for d in b2b if not d.keep], 2):
            d.big = d.keep = True

    def promise(self, d: Draft) -> datetime:
        lead = {"retail": (2, 4), "make_to_order": (18, 35), "b2b_credit": (7, 21)}[d.flow]
        extra = {"retail": 7, "make_to_order": 20, "b2b_credit": 25}[d.flow] if d.foreign else 0
        day = (d.created_at.astimezone(self.tz) + timedelta(
            days=self.rng.randint(*lead) + extra)).date()
        hour = 20 if d.flow == "retail" else 17
        return datetime(day.year, day.month, day.day, hour, tzinfo=self.tz)

    def say(self, d: Draft, pair: tuple[str, str]) -> str:
        return pair[1] if d.en else pair[0]

    # bodies ----------------------------------------------------------------------------

    def customer(self, d: Draft) -> data.Customer:
        rng = self.rng
        pool = self.pools.setdefault(f"{d.flow}:{d.foreign}", [])
        if d.flow == "retail":  # one in ten shoppers comes back
            if rng.random() < 0.1 and pool:
                return rng.choice(pool)
            pool.append(data.customer(rng, company=None, foreign=d.foreign))
            return pool[-1]
        if len(pool) < 8 or rng.random() < 0.15:
            industries = data.B2B_INDUSTRIES if d.flow == "b2b_credit" else data.MTO_INDUSTRIES
            pool.append(data.customer(rng, company="", foreign=d.foreign,
                                      industries=industries))
        # A few key accounts order much more often than the rest.
        return rng.choices(pool, [1 / (i + 1) ** 0.8 for i in range(len(pool))])[0]

    def price(self, d: Draft, product: data.Product) -> Decimal:
        price = product.price
        if d.flow != "retail":
            price *= Decimal(str(round(self.rng.uniform(0.92, 1.08), 3)))
        if d.foreign:
            price /= USD_RATE
            if d.flow == "retail":
                return price.quantize(Decimal(1)) - Decimal("0.01")
        exp = Decimal(1) if price >= 1000 else Decimal("0.01")
        return price.quantize(exp, ROUND_HALF_UP)

    def body(self, d: Draft) -> OrderCreate:
        rng = self.rng
        c = self.customer(d)
        products = {"retail": data.RETAIL_PRODUCTS, "make_to_order": data.MTO_PRODUCTS,
                    "b2b_credit": data.B2B_PRODUCTS}[d.flow]
        count = rng.choices((1, 2, 3), (70, 22, 8) if d.flow == "retail" else (55, 30, 15))[0]
        lines = [[p, data.quantity(rng, p), self.price(d, p)]
                 for p in rng.sample(products, count)]

        def subtotal() -> Decimal:
            return sum((q * u for _p, q, u in lines), Decimal(0))

        if d.flow == "b2b_credit":
            # Big orders need both approval levels; the others stay below that line.
            total = subtotal()
            if d.big and total < BIG:
                target = BIG * Decimal(str(round(rng.uniform(1.02, 2.5), 2)))
            elif not d.big and total >= BIG * Decimal("0.95"):
                target = Decimal(rng.randrange(8000, 180000))
            else:
                target = total
            for line in lines:
                product, qty = line[0], line[1]
                steps = max(1, round(qty * target / total / product.step))
                line[1] = (steps * product.step).normalize()
            while subtotal() < CREDIT_MIN:
                for line in lines:
                    line[1] = (line[1] * 2).normalize()
        body: dict[str, Any] = {
            "flow": d.flow,
            "customer": {"name": c.name, "phone": c.phone, "email": c.email,
                         "country": c.country, "province": c.province, "city": c.city,
                         "address": c.address},
            "lines": [{"sku": p.sku, "name": p.en if d.en else p.zh, "qty": q, "unit_price": u}
                      for p, q, u in lines],
            "currency": "USD" if d.foreign else "CNY",
            "priority": _weighted(rng, PRIORITIES[d.flow]),
            "promised_at": d.promised_at,
            "tags": rng.sample(TAGS[d.flow], rng.choices((0, 1, 2), (60, 30, 10))[0]),
            "custom": {},
        }
        if c.contact:
            body["custom"]["contact"] = c.contact
        if rng.random() < 0.15:
            body["note"] = self.say(d, rng.choice(data.CREATE_NOTES[d.flow]))
        local = d.created_at.astimezone(self.tz)
        sub = subtotal()
        if d.flow == "retail":
            self.retail_body(d, body, sub, local)
        elif d.flow == "make_to_order":
            d.creator = "james.wu" if d.foreign else "li.na"
            body["channel"] = rng.choices(("direct", "distributor"), (70, 30))[0]
            body["custom"]["drawing_no"] = f"DWG-{local:%y}{rng.randint(100, 999)}-Rev.B"
            if not d.foreign and rng.random() < 0.4:
                body["shipping_fee"] = Decimal(rng.randrange(300, 3000, 50))
            if rng.random() < 0.4:
                body["external_source"] = "customer_po"
                body["external_ref"] = f"PO-45{rng.randrange(10**8):08d}"
        else:
            d.creator = "james.wu" if d.foreign else "li.na"
            body["channel"] = "b2b"
            body["shipping_fee"] = Decimal(rng.randrange(500, 6000, 100))
            body["custom"]["payment_terms"] = "Net 60" if d.en else "月结60天"
            if rng.random() < 0.7:
                self.erp_no += rng.randint(1, 9)
                body["external_source"] = "erp"
                body["external_ref"] = f"ERP-SO-{local:%Y}-{self.erp_no:06d}"
        if d.foreign and "export" not in body["tags"] and d.flow != "retail":
            body["tags"].append("export")
        return OrderCreate.model_validate(body)

    def retail_body(self, d: Draft, body: dict[str, Any], sub: Decimal, local: datetime,
                    ) -> None:
        rng = self.rng
        d.creator = "shop.sync"
        channel = "web" if d.foreign else _weighted(rng, RETAIL_CHANNELS)
        body["channel"] = channel
        if d.foreign:
            body["shipping_fee"] = Decimal(15)
            body["tags"].append("cross_border")
        elif sub < 99 and channel != "pdd":
            body["shipping_fee"] = Decimal(8)
        if not d.foreign and rng.random() < 0.3 and sub >= 199:
            body["discount"] = Decimal(rng.choice((10, 20, 30, 50)))
        if (local.month, local.day) >= (10, 31) and (local.month, local.day) <= (11, 11):
            body["tags"].append("double11")
        ref = {"tmall": lambda: str(rng.randrange(2 * 10**18, 4 * 10**18)),
               "jd": lambda: str(rng.randrange(2 * 10**11, 3 * 10**11)),
               "douyin": lambda: f"69{rng.randrange(10**17):017d}",
               "pdd": lambda: f"{local:%y%m%d}-{rng.randrange(10**15):015d}"}.get(channel)
        if ref is not None:
            body["external_source"], body["external_ref"] = channel, ref()

    # scripts ---------------------------------------------------------------------------

    def script(self, d: Draft) -> None:
        s = _Script(self, d)
        try:
            {"retail": s.retail, "make_to_order": s.make_to_order,
             "b2b_credit": s.b2b_credit}[d.flow]()
            d.finished = True
        except _Stop:
            d.finished = s.cancelled
        d.steps, d.entries = s.steps, s.entries

    def ensure_every_stage(self, drafts: list[Draft]) -> None:
        """Orders in progress at every stage: if a stage has too few, an order that went
        through it most recently is stopped there (its later steps have not happened yet)."""
        want = 1 + len(drafts) // 1500

        def where(d: Draft) -> tuple[str, str] | None:
            return None if d.finished else (d.flow, d.entries[-1][0])

        count = Counter(where(d) for d in drafts)
        stages = dict.fromkeys(key for d in drafts for key in
                               ((d.flow, stage) for stage, _n in d.entries))
        for flow, stage in stages:
            while count[flow, stage] < want:
                best: tuple[datetime, Draft, int] | None = None
                for d in drafts:
                    here = where(d)
                    if (d.flow != flow or d.kind != "normal" or d.keep or here == (flow, stage)
                            or (here is not None and count[here] <= want)):
                        continue
                    for position, (entered, n) in enumerate(d.entries):
                        if entered != stage or (position == len(d.entries) - 1
                                                and not d.finished):
                            continue
                        at = d.steps[n - 1].at if n else d.created_at
                        if best is None or at > best[0]:
                            best = (at, d, position)
                if best is None:
                    break
                _at, d, position = best
                count[where(d)] -= 1
                d.entries = d.entries[:position + 1]
                d.steps = d.steps[:d.entries[-1][1]]
                d.finished = False
                count[flow, stage] += 1

    def who(self, role: str, d: Draft | None = None) -> str:
        if role == "sales" and d is not None:
            return d.creator if d.creator != "shop.sync" else "li.na"
        return self.rng.choice(self.roles[role])


class _Script:
    """The steps of one order, each at a working moment after the one before, until now."""

    def __init__(self, p: Planner, d: Draft) -> None:
        self.p, self.d, self.rng = p, d, p.rng
        self.t = d.created_at
        self.steps: list[Step] = []
        self.slow = False
        self.played = False
        self.cancelled = False
        self.entries: list[tuple[str, int]] = []

    def do(self, delay: timedelta, shift: str | None, user: str | None, req: Request) -> None:
        if self.slow:
            delay *= self.rng.uniform(4, 9)
            if isinstance(req, Advance | Trigger) and req.note is None:
                req = replace(req, note=self.p.say(self.d, self.rng.choice(data.SLOW_NOTES)))
            self.slow = False
        at = self.p.open_at(self.t + delay, shift)
        if at >= self.p.now:
            raise _Stop
        self.t = at
        self.steps.append(Step(at, user, req))

    def note(self, pairs: tuple[tuple[str, str], ...], chance: float) -> str | None:
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
            raise _Stop
        if d.kind == "slow":
            self.slow = True
        elif d.kind == "cancel":
            note = p.say(d, self.rng.choice(data.CANCEL_NOTES[d.flow]))
            who = p.who("service") if d.flow == "retail" else p.who("sales", d)
            self.do(p.hours(0.2, 20), shift, who, Cancel(note))
            self.cancelled = True
            raise _Stop
        elif d.kind in ("hold", "hold_now"):
            _stages, zh, en = self.rng.choice(
                [n for n in data.HOLD_NOTES[d.flow] if stage in n[0]])
            held, resumed = en if d.en else zh
            user = p.who(HOLDER.get((d.flow, stage)) or HOLDER[d.flow], d)
            self.do(p.hours(0.1, 6), shift, user, Hold(held))
            wait = p.days(300, 400) if d.kind == "hold_now" else p.hours(3, 96)
            self.do(wait, shift, user, Resume(resumed))

    def ship_note(self, bulk: bool) -> str:
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
                     ("快递柜代收", "Left in a parcel locker"), ("驿站代收", "Left at the pick-up "
                                                                 "point"))
        self.do(transit, COURIER, None, Trigger("shipment.all_delivered",
                                                self.note(delivered, 0.6)))
        self.enter("delivered", None)
        confirmed = (("买家确认收货", "Buyer confirmed receipt"),
                     ("超时自动确认收货", "Receipt confirmed automatically after 10 days"))
        self.do(p.days(0.3, 10), None, None, Trigger("order.receipt_confirmed",
                                                     self.note(confirmed, 0.8)))

    def make_to_order(self) -> None:
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
            wo = f"WO{rng.randint(10000, 99999)}"
            done = p.days(2, 9) if attempt == 0 else p.days(1, 3)
            self.do(done, FACTORY, None, Trigger("work_order.completed",
                                                 p.say(d, (f"工单 {wo} 完工",
                                                           f"Work order {wo} done"))))
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


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def _total(body: OrderCreate) -> Decimal:
    sub = sum((ln.qty * ln.unit_price for ln in body.lines), Decimal(0))
    return (sub + body.shipping_fee - body.discount).quantize(Decimal("0.01"))


# Database -----------------------------------------------------------------------------


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
                clock: FrozenClock, settings: Settings) -> list[str]:
    """Create a batch of orders and play their steps, round by round; returns the numbers.

    Each step runs what ``order.service.act`` runs: the planner decides (and refuses anything
    the flow or the roles forbid) and the service's own ``_apply`` writes stage, visits,
    timeline rows, approvals and outbox events. Only act's per-call overhead is shared: the
    batch's orders stay loaded, their open visits are read once a round and each round is
    flushed once. Calling act per step (about nine statements each) made a 3000-order demo
    four to five times slower; tests/demo checks that both write the same rows.
    """

    def ctx(user: str | None) -> Ctx:
        return Ctx(session=session, actor=actors[user], clock=clock, settings=settings)

    orders: list[Order] = []
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
        for order, d in zip(orders, drafts, strict=True):
            if i >= len(d.steps):
                continue
            step = d.steps[i]
            clock.set(step.at)
            c = ctx(step.user)
            _version, flow = service.flow_of(c, order)
            visit = visits.get(order.id)
            outcome = planner.plan(flow, service.state_of(c, order, flow, visit), c.actor,
                                   step.request)
            if isinstance(outcome, planner.Refusal):
                raise TransitionNotAllowed(outcome.message, status=outcome.status,
                                           code=outcome.code, current_stage=order.stage)
            service._apply(c, order, flow, visit, outcome, step.request)
    session.flush()
    return [o.order_no for o in orders]


def build_demo(engine: Engine, settings: Settings, orders: int, seed: int) -> DemoReport:
    """Fill the database with demo users and orders; on a demo database, only issue new keys."""
    started = time.perf_counter()
    now = SystemClock().now()
    factory = make_sessionmaker(engine)
    with write_session(factory) as session:
        users, existed = ensure_users(session, now)
        keys = [UserKey(u.name, u.display_name, u.role,
                        auth.create_api_key(session, users[u.name], SystemClock(), "demo")[1])
                for u in data.USERS]
    actors = actors_of(users)
    created = 0
    if not existed and orders > 0:
        rng = random.Random(seed)
        drafts = Planner(rng, now, ZoneInfo(settings.timezone)).drafts(orders)
        clock = FrozenClock(now)
        for start in range(0, len(drafts), BATCH):
            with write_session(factory) as session:
                apply_batch(session, drafts[start:start + BATCH], actors, clock, settings)
            created += len(drafts[start:start + BATCH])
    with factory() as session:
        by_flow = dict(session.execute(
            select(Order.flow_id, func.count()).group_by(Order.flow_id)).all())
        spots = highlights(session, now)
    return DemoReport(users=keys, created=created, by_flow=Counter(by_flow),
                      seconds=time.perf_counter() - started, reused=existed, highlights=spots,
                      now=now, tz=settings.timezone)
