"""The demo's plan: when orders arrive, who the customers are, what they buy, what happens.

Everything is decided in memory from one seeded random generator, relative to 'now'.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ordertrail.demo import data
from ordertrail.demo.script import BIG, OFFICE, SHIFTS, Draft, Script, Stop
from ordertrail.order.schemas import OrderCreate

DAYS = 90
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
RETAIL_HOURS = (1, .5, .3, .2, .2, .3, .6, 1, 1.5, 2, 2.6, 2.5, 2.2, 2.2, 2.3, 2.3, 2.2, 2, 2,
                2.4, 3, 3.4, 3, 2)
OFFICE_HOURS = (0,) * 9 + (2, 3, 3, 1, 2, 3, 3, 2.5, 1.5) + (0,) * 6

def _golden_week(day: date) -> bool:
    return day.month == 10 and day.day <= 7

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
        """A duration between lo and hi hours, usually nearer the short end."""
        return timedelta(hours=self.rng.triangular(lo, hi, lo + (hi - lo) * 0.3))

    def days(self, lo: float, hi: float) -> timedelta:
        """A duration between lo and hi days, usually nearer the short end."""
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
        """All orders of the demo, oldest first, each with its body and its steps."""
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
        # Stuck for weeks, hence late: only orders whose promised time has passed.
        overdue = [d for d in drafts if d.kind == "normal" and d.promised_at is not None
                   and d.promised_at < now - timedelta(days=1)
                   and timedelta(days=8) < age(d) < timedelta(days=35)]
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
        """The delivery date promised at checkout or in the contract."""
        lead = {"retail": (2, 4), "make_to_order": (18, 35), "b2b_credit": (7, 21)}[d.flow]
        extra = {"retail": 7, "make_to_order": 20, "b2b_credit": 25}[d.flow] if d.foreign else 0
        day = (d.created_at.astimezone(self.tz) + timedelta(
            days=self.rng.randint(*lead) + extra)).date()
        hour = 20 if d.flow == "retail" else 17
        return datetime(day.year, day.month, day.day, hour, tzinfo=self.tz)

    def say(self, d: Draft, pair: tuple[str, str]) -> str:
        """(zh, en): Chinese for Chinese customers, English for foreign ones."""
        return pair[1] if d.en else pair[0]

    # bodies ----------------------------------------------------------------------------

    def customer(self, d: Draft) -> data.Customer:
        """A new or returning customer of the kind the flow serves."""
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
        """List price in retail, negotiated (±8%) otherwise; USD for foreign customers."""
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
        """The order as the API would receive it."""
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
        """Play the order's flow up to 'now'."""
        s = Script(self, d)
        try:
            {"retail": s.retail, "make_to_order": s.make_to_order,
             "b2b_credit": s.b2b_credit}[d.flow]()
            d.finished = True
        except Stop:
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
        """The demo user doing a step for a role (an order's own salesperson for sales)."""
        if role == "sales" and d is not None:
            return d.creator if d.creator != "shop.sync" else "li.na"
        return self.rng.choice(self.roles[role])


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]
