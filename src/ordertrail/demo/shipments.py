"""The demo's parcels: every order that has passed its shipping step travels with a carrier.

Planned in memory after the orders (``plan_parcels``): a courier that fits the customer (JD
for JD-store orders, the 通达 couriers for marketplace parcels, SF or JD for business
customers, UPS / DHL / FedEx abroad), a tracking number in that courier's real format (checked
with ``carrier.detect``), and the checkpoints of a simulated journey (``carrier.sim.journey``)
stretched or squeezed to fit between the order's shipped step and its delivered step, or, for
parcels still on the way, cut off at 'now'. A few parcels on the way are lost, or had a failed
delivery attempt.

Written by ``ParcelWriter`` while the orders are played: the shipment rows are those
``shipment.service.create_shipment`` writes (shipment, lines, ``shipment_created`` timeline
row, ``shipment.created`` event) without firing the flow trigger, which the order's own
planned step fires; the checkpoints go through ``shipment.ingest.ingest`` (source ``import``)
under a clock set to the time they were received, so timeline rows and outbox events are the
system's own. The parcels are history: none is registered with a carrier or due for polling.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from ordertrail.carrier.base import CarrierEvent, TrackingUpdate
from ordertrail.carrier.detect import detect
from ordertrail.carrier.sim import journey as jr
from ordertrail.config import Settings
from ordertrail.context import Ctx
from ordertrail.demo.script import Draft
from ordertrail.flow.planner import Actor, Trigger
from ordertrail.jobs.outbox import emit
from ordertrail.kit.clock import FrozenClock
from ordertrail.models import Order, Shipment, ShipmentLine, TimelineEntry
from ordertrail.shipment.ingest import ingest

PROVIDER = "sim"
SOURCE = "import"
STOPPED = "demo history"  # why no historic parcel is registered or polled
SHIPPERS = ("wang.qiang", "zhang.hao")  # the warehouse users who enter the parcels
PARTIAL_SHARE = 0.25  # of make-to-order and B2B orders: shipped in two lots
# A delivered parcel was never lost or returned; the simulator's other scenarios stay.
DELIVERED_RATES = jr.Rates(lost_rate=0.0, return_rate=0.0)
IN_TRANSIT_RATES = jr.Rates(lost_rate=0.0, return_rate=0.0, failed_attempt_rate=0.0)
_NOTABLE = ("exception", "attempt_fail")  # statuses that write a row on the order's timeline

# Couriers by kind of sender and destination (weights).
_MARKETPLACE = {"zto": 26, "yto": 22, "yunda": 16, "sto": 12, "jtexpress": 10, "sf": 10,
                "ems": 4}
_BY_CHANNEL = {"jd": {"jd": 85, "sf": 15},
               "pdd": {"jtexpress": 28, "yunda": 20, "zto": 20, "sto": 16, "yto": 16},
               "web": {"sf": 45, "zto": 20, "yto": 15, "ems": 10, "jd": 10}}
_BUSINESS = {"sf": 45, "jd": 25, "deppon": 15, "ems": 8, "zto": 7}
_REMOTE = frozenset({"云南", "广西", "黑龙江", "贵州", "海南", "吉林", "山西", "内蒙古", "新疆",
                     "西藏", "青海", "甘肃", "宁夏"})
_ABROAD = {"US": {"ups": 50, "fedex": 30, "dhl": 20}, "DE": {"dhl": 60, "ups": 30, "fedex": 10},
           "GB": {"dhl": 55, "ups": 35, "fedex": 10}, "NL": {"dhl": 60, "ups": 30, "fedex": 10}}
_ABROAD_OTHER = {"dhl": 55, "ups": 25, "fedex": 20}
_UPS_CHARS = "0123456789ABCDEFGHJKLMNPRTVWXY"
_DIGITS = "0123456789"


# Tracking numbers ----------------------------------------------------------------------------


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(_DIGITS, k=n))


def _shape(rng: random.Random, carrier: str) -> str:
    """A number in the courier's format; ``?`` marks a check digit still to be found."""
    match carrier:
        case "sf":
            return f"SF1{rng.choice('3456')}{_digits(rng, 11)}"
        case "yto":
            return f"YT{rng.choice('4678')}{_digits(rng, 12)}"
        case "zto":
            return f"7{rng.choice('3568')}{_digits(rng, 12)}"
        case "sto":
            return f"77{rng.choice('3456')}{_digits(rng, 12)}"
        case "yunda":
            return f"{rng.choice(('31', '46', '43', '32'))}{_digits(rng, 13)}"
        case "jd":
            if rng.random() < 0.7:
                return f"JDV{rng.choice('ABCDE')}{_digits(rng, 11)}"
            return f"JDX{_digits(rng, 12)}"
        case "jtexpress":
            return f"JT{rng.choice('35')}{_digits(rng, 12)}"
        case "ems":  # EMS items carry a UPU S10 number: E?, 8 digits, check digit, CN
            return f"E{rng.choice('ABCDEMS')}{_digits(rng, 8)}?CN"
        case "deppon":
            return f"DPK{rng.choice('23')}{_digits(rng, 11)}"
        case "ups":  # 1Z, shipper account, service (Worldwide Express/Expedited), package
            account = "".join(rng.choices(_UPS_CHARS, k=6))
            return f"1Z{account}{rng.choice(('04', '66', '65', '08'))}{_digits(rng, 7)}?"
        case "dhl":  # DHL Express piece ID, as on each piece's label
            return f"JJD00{_digits(rng, 8)}"
        case "fedex":  # the 34-digit barcode of a FedEx label
            return f"1001{_digits(rng, 11)}{_digits(rng, 5)}00{_digits(rng, 11)}?"
    raise ValueError(f"no number format for {carrier}")


def recognised(number: str, carrier: str) -> bool:
    """``detect`` names this courier first, confidently, and no check digit fails."""
    best = detect(number).best
    return (best is not None and best.carrier == carrier and best.confidence >= 0.5
            and best.checksum_valid is not False)


def tracking_number(rng: random.Random, carrier: str, taken: set[str]) -> str:
    """A fresh number that ``ordertrail carriers detect`` attributes to ``carrier``."""
    for _ in range(200):
        shape = _shape(rng, carrier)
        options = [shape.replace("?", d) for d in _DIGITS] if "?" in shape else [shape]
        for number in options:
            if number not in taken and recognised(number, carrier):
                taken.add(number)
                return number
    raise RuntimeError(f"cannot make a {carrier} tracking number")


def courier_name(carrier: str, en: bool) -> str:
    info = jr.COURIERS[carrier]
    return info.en if en or not info.domestic else info.zh


# Plans ---------------------------------------------------------------------------------------


@dataclass
class Parcel:
    """One shipment of a demo order, as it will be written."""

    carrier: str
    number: str
    created_at: datetime
    shipper: str
    lines: list[tuple[int, Decimal]]  # (line_no, qty) in this parcel
    scenario: str
    events: list[CarrierEvent] = field(default_factory=list)  # until 'now', oldest first
    delivered: bool = False


@dataclass(frozen=True)
class Action:
    """Something that happens to a parcel, played before the order's step ``slot``."""

    slot: int
    at: datetime
    parcel: int
    events: tuple[CarrierEvent, ...] = ()  # none: the shipment is created


@dataclass
class OrderParcels:
    parcels: list[Parcel]
    actions: list[Action]

    def due(self, slot: int | None) -> list[Action]:
        """Actions of this slot; None: every action after the last step."""
        return [a for a in self.actions if (a.slot == slot if slot is not None else True)]


def _weighted(rng: random.Random, weights: Mapping[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def _trigger_index(d: Draft, event: str) -> int | None:
    return next((i for i, s in enumerate(d.steps)
                 if isinstance(s.request, Trigger) and s.request.event == event), None)


class ParcelPlanner:
    """Decides every parcel of the demo from one seeded generator."""

    def __init__(self, rng: random.Random, now: datetime, tz: ZoneInfo, seed: int) -> None:
        self.rng, self.now, self.tz, self.seed = rng, now, tz, seed
        self.taken: set[str] = set()
        self.force: Draft | None = None  # this order ships in two lots

    def carrier(self, d: Draft) -> str:
        assert d.body is not None
        c, rng = d.body.customer, self.rng
        if d.foreign:
            return _weighted(rng, _ABROAD.get(c.country or "", _ABROAD_OTHER))
        if d.flow != "retail":
            weights = dict(_BUSINESS)
        else:
            weights = dict(_BY_CHANNEL.get(d.body.channel or "", _MARKETPLACE))
            if sum(ln.qty * ln.unit_price for ln in d.body.lines) >= 1000:
                weights["sf"] = weights.get("sf", 0) + 40  # valuables go by SF
        if (c.province or "") in _REMOTE:
            weights["ems"] = weights.get("ems", 0) + 25  # the post reaches everywhere
        return _weighted(rng, weights)

    def split(self, d: Draft) -> list[list[tuple[int, Decimal]]]:
        """The lines of each parcel: one parcel, or two lots for some business orders."""
        assert d.body is not None
        lines = [(n, ln.qty) for n, ln in enumerate(d.body.lines, start=1)]
        if d.flow == "retail" or (self.rng.random() >= PARTIAL_SHARE and d is not self.force):
            return [lines]
        if len(lines) >= 2:
            cut = self.rng.randint(1, len(lines) - 1)
            return [lines[:cut], lines[cut:]]
        n, qty = lines[0]
        first = (qty * Decimal(str(round(self.rng.uniform(0.4, 0.7), 2)))).to_integral_value()
        if first < 1 or first >= qty:
            return [lines]
        return [[(n, first)], [(n, qty - first)]]

    def plan(self, drafts: Sequence[Draft]) -> list[OrderParcels | None]:
        """Every order's parcels (None: not shipped); names them in the shipped step's note."""
        out: list[OrderParcels | None] = []
        on_the_way: list[tuple[Draft, Parcel]] = []
        # However small the demo, one business order ships in two lots.
        two = [d for d in drafts if d.flow != "retail" and d.body is not None
               and _trigger_index(d, "shipment.created") is not None
               and (len(d.body.lines) > 1 or d.body.lines[0].qty >= 2)]
        self.force = self.rng.choice(two) if two else None
        for d in drafts:
            shipped = _trigger_index(d, "shipment.created")
            if shipped is None:
                out.append(None)
                continue
            out.append(self.order(d, shipped, on_the_way))
        self.troubles(on_the_way)
        for d, op in zip(drafts, out, strict=True):
            if op is not None:
                self.schedule(d, op)
        return out

    def order(self, d: Draft, shipped: int, on_the_way: list[tuple[Draft, Parcel]],
              ) -> OrderParcels:
        rng = self.rng
        delivered = _trigger_index(d, "shipment.all_delivered")
        t_ship = d.steps[shipped].at
        t_done = d.steps[delivered].at if delivered is not None else None
        carrier = self.carrier(d)
        lots = self.split(d)
        starts = [t_ship]
        if len(lots) > 1:  # the second lot leaves a little later, in office hours
            second = self.later(t_ship, t_done, 40 if d is self.force else 12)
            if second is None:
                assert d.body is not None
                lots = [[(n, ln.qty) for n, ln in enumerate(d.body.lines, start=1)]]
            else:
                starts.append(second)
        parcels = [Parcel(carrier, tracking_number(rng, carrier, self.taken),
                          at, rng.choice(SHIPPERS), lines, "normal")
                   for at, lines in zip(starts, lots, strict=True) if at < self.now]
        for parcel in parcels:
            if t_done is not None:
                self.deliver(d, parcel, t_done)
            elif parcel is parcels[-1]:
                on_the_way.append((d, parcel))  # troubles() decides how its journey goes
            else:
                self.travel(d, parcel, None)
        # The shipped step names the courier and the number, in the customer's language.
        step = d.steps[shipped]
        assert isinstance(step.request, Trigger)
        first = parcels[0]
        note = f"{courier_name(carrier, d.en)} {first.number}"
        if len(lots) > 1:
            note += " (lot 1 of 2)" if d.en else "（分批发货 第1批/共2批）"
        step.request = replace(step.request, note=note)
        return OrderParcels(parcels, [])

    def later(self, t_ship: datetime, t_done: datetime | None, tries: int) -> datetime | None:
        """When a second lot is handed over: a working hour before the first is delivered
        (or, on the way, within two days); None if there is no such hour."""
        for _ in range(tries):
            if t_done is not None:
                at = t_ship + (t_done - t_ship) * self.rng.uniform(0.05, 0.4)
            else:
                at = t_ship + timedelta(hours=self.rng.uniform(3, 48))
            if 9 <= at.astimezone(self.tz).hour < 18:
                return at
        return None

    def journey(self, d: Draft, parcel: Parcel, scenario: str | None,
                rates: jr.Rates) -> jr.Journey:
        assert d.body is not None
        j = jr.plan(parcel.number, parcel.carrier, parcel.created_at, scenario=scenario,
                    rates=rates, seed=self.seed, destination_city=d.body.customer.city)
        parcel.scenario = j.scenario
        return j

    def place(self, parcel: Parcel, j: jr.Journey, factor: float, count: int | None = None,
              ) -> None:
        """Stamp the journey's first ``count`` events, its offsets times ``factor``."""
        t0 = parcel.created_at
        events = []
        for e in j.events[:count]:
            at = (t0 + e.offset * factor).replace(microsecond=0)
            if at > self.now:
                break
            events.append(CarrierEvent(occurred_at=at, status=e.status, substatus=e.substatus,
                                       description=e.description, code=e.code,
                                       location=e.location))
        parcel.events = events
        parcel.delivered = bool(events) and events[-1].status == "delivered"

    def deliver(self, d: Draft, parcel: Parcel, t_done: datetime) -> None:
        """A parcel delivered shortly before the order's delivered step."""
        slow = d.kind == "slow" and d.stage == "shipped"
        j = self.journey(d, parcel, "delay" if slow else None, DELIVERED_RATES)
        window = t_done - parcel.created_at
        lag = min(timedelta(minutes=self.rng.uniform(2, 45)), window * 0.1)
        self.place(parcel, j, (window - lag) / j.events[-1].offset)  # stamps round down

    def travel(self, d: Draft, parcel: Parcel, scenario: str | None) -> None:
        """A parcel still on the way: its journey cut off at 'now'."""
        rng = self.rng
        age = self.now - parcel.created_at
        if scenario == "lost":
            j = self.journey(d, parcel, "lost", IN_TRANSIT_RATES)
            end = j.events[-1].offset
            factor = 1.0 if age >= end else age / end * rng.uniform(0.7, 0.95)
            self.place(parcel, j, factor)
            return
        if scenario == "failed_attempt":
            j = self.journey(d, parcel, "failed_attempt", IN_TRANSIT_RATES)
            i = next(n for n, e in enumerate(j.events) if e.status == "attempt_fail")
            tried, again = j.events[i].offset, j.events[i + 1].offset
            factor = 1.0
            if not tried <= age < again:
                factor = age / (tried + (again - tried) * rng.uniform(0.1, 0.7))
            self.place(parcel, j, factor, i + 1)
            return
        j = self.journey(d, parcel, scenario, IN_TRANSIT_RATES)
        end = j.events[-1].offset
        factor = 1.0 if age < end * 0.85 else age / (end * rng.uniform(0.45, 0.85))
        self.place(parcel, j, factor, len(j.events) - 1)  # never its delivery

    def troubles(self, on_the_way: list[tuple[Draft, Parcel]]) -> None:
        """Parcels still on the way: the longest-travelling ones lost or failed once."""
        by_age = sorted(on_the_way, key=lambda item: item[1].created_at)
        stuck = [item for item in by_age if item[0].kind == "stuck"]
        lost = {id(p) for _d, p in (stuck[0::2] or by_age[:1])}
        failed = {id(p) for _d, p in stuck[1::2]}
        if not failed and len(by_age) > 1:  # one of each, whatever the demo's size
            # (not the lost one: with one stuck order, by_age[1] can be that order's parcel)
            failed = {id(next(p for _d, p in by_age if id(p) not in lost))}
        # A parcel out for a couple of days also misses its recipient: 'now' shows it too.
        recent = [p for _d, p in reversed(by_age) if id(p) not in lost | failed
                  and timedelta(days=1.5) < self.now - p.created_at < timedelta(days=5)]
        if recent and self.rng.random() < 0.8:
            failed.add(id(recent[0]))
        for d, parcel in on_the_way:
            scenario = ("lost" if id(parcel) in lost
                        else "failed_attempt" if id(parcel) in failed else None)
            self.travel(d, parcel, scenario)

    def schedule(self, d: Draft, op: OrderParcels) -> None:
        """When each parcel is created and its checkpoints come in, relative to the steps.

        A creation comes before the first step at or after its time (the shipped step
        itself for the first parcel). Checkpoints come in batches that end at each exception
        or failed attempt (so each gets its timeline row at its time) and at the last one
        known; a batch comes before the first step after it, except the one that delivers a
        parcel of a delivered order: that one comes after the order's delivered step, which
        the demo plays itself (the automation would otherwise take it first).
        """
        times = [s.at for s in d.steps]
        delivered = _trigger_index(d, "shipment.all_delivered")

        def before(at: datetime, inclusive: bool) -> int:
            return next((i for i, t in enumerate(times) if (t >= at if inclusive else t > at)),
                        len(times))

        actions = []
        for n, parcel in enumerate(op.parcels):
            actions.append(Action(before(parcel.created_at, True), parcel.created_at, n))
            batch: list[CarrierEvent] = []
            for i, e in enumerate(parcel.events):
                batch.append(e)
                last = i == len(parcel.events) - 1
                if not last and e.status not in _NOTABLE:
                    continue
                slot = before(e.occurred_at, False)
                if last and parcel.delivered and delivered is not None:
                    slot = max(slot, delivered + 1)
                actions.append(Action(slot, e.occurred_at, n, tuple(batch)))
                batch = []
        actions.sort(key=lambda a: (a.slot, a.at, bool(a.events)))
        op.actions = actions


def plan_parcels(drafts: Sequence[Draft], now: datetime, tz: ZoneInfo,
                 seed: int) -> list[OrderParcels | None]:
    """The parcels of every planned order (None for orders not shipped), aligned with them."""
    rng = random.Random(f"ordertrail-demo-parcels:{seed}")
    return ParcelPlanner(rng, now, tz, seed).plan(drafts)


# Writing -------------------------------------------------------------------------------------


class ParcelWriter:
    """Writes parcels of orders being played by ``generate.apply_batch``."""

    def __init__(self, session: Session, actors: Mapping[str | None, Actor],
                 settings: Settings) -> None:
        self.session, self.actors, self.settings = session, actors, settings
        self.clock = FrozenClock(datetime.now(UTC))
        self.ids: dict[tuple[int, int], int] = {}  # (order id, parcel index) -> shipment id
        self.shipped: dict[int, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))

    def ctx(self, actor: str | None, at: datetime) -> Ctx:
        self.clock.set(at)
        return Ctx(session=self.session, actor=self.actors[actor], clock=self.clock,
                   settings=self.settings)

    def play(self, order: Order, op: OrderParcels, slot: int | None) -> None:
        """What happens to the order's parcels before its step ``slot`` (None: the rest)."""
        for action in op.due(slot):
            parcel = op.parcels[action.parcel]
            if action.events:
                update_ = TrackingUpdate(parcel.number, action.events, courier=parcel.carrier)
                ingest(self.ctx(None, action.at), PROVIDER, [update_], SOURCE)
            else:
                self.create(order, parcel, action.parcel)
        if slot is None:
            op.actions = []
        else:
            op.actions = [a for a in op.actions if a.slot != slot]

    def create(self, order: Order, parcel: Parcel, index: int) -> None:
        """The rows ``shipment.service.create_shipment`` writes, without firing the trigger."""
        ctx = self.ctx(parcel.shipper, parcel.created_at)
        at, actor = parcel.created_at, ctx.actor
        phone = "".join(ch for ch in order.customer_phone or "" if ch.isdigit())
        shipment_id = self.session.execute(insert(Shipment.__table__).returning(
            Shipment.__table__.c.id), {
            "order_id": order.id, "carrier": parcel.carrier, "provider": PROVIDER,
            "service": None, "tracking_number": parcel.number, "origin_city": None,
            "origin_province": None, "origin_country": None,
            "destination_city": order.customer_city,
            "destination_province": order.customer_province,
            "destination_country": order.customer_country, "weight_kg": None,
            "shipped_at": at, "carrier_eta": None, "eta": None, "status": "pending",
            "substatus": "pending.registered", "progress_rank": 0, "last_event_at": None,
            "last_event": None, "last_location": None, "delivered_at": None, "event_count": 0,
            "registered_at": None, "last_checked_at": None, "next_check_at": None,
            "check_failures": 0, "stopped_reason": STOPPED,
            "meta": {"phone_last4": phone[-4:]} if phone else {},
            "created_at": at, "updated_at": at, "created_by": actor.user_id}).scalar_one()
        self.ids[order.id, index] = shipment_id
        by_no = {line.line_no: line for line in order.lines}
        shipped = self.shipped[order.id]
        self.session.execute(insert(ShipmentLine.__table__), [
            {"shipment_id": shipment_id, "order_line_id": by_no[n].id, "qty": qty}
            for n, qty in parcel.lines])
        for n, qty in parcel.lines:
            shipped[n] += qty
        left = sorted(n for n, line in by_no.items() if line.qty - shipped[n] > 0)
        self.session.execute(insert(TimelineEntry.__table__), {
            "order_id": order.id, "at": at, "kind": "shipment_created",
            "actor_id": actor.user_id, "actor": actor.name, "role": "warehouse",
            "from_stage": None, "to_stage": None, "note": f"{parcel.carrier} {parcel.number}",
            "source": actor.source,
            "data": {"shipment_id": shipment_id, "carrier": parcel.carrier,
                     "tracking_number": parcel.number, "provider": PROVIDER,
                     "lines": {str(n): str(qty) for n, qty in parcel.lines},
                     "unshipped_lines": left}})
        emit(self.session, "shipment.created", "shipment", str(shipment_id),
             {"shipment_id": shipment_id, "order_no": order.order_no,
              "carrier": parcel.carrier, "tracking_number": parcel.number,
              "provider": PROVIDER, "partial": bool(left), "at": at.isoformat()}, at)

    def finish(self) -> None:
        """History is not tracked: nothing to register with the live simulator or poll.

        Ingestion schedules a first check for a parcel its provider has not registered;
        these were never meant to be, so that is undone in one statement.
        """
        ids = sorted(self.ids.values())
        for start in range(0, len(ids), 500):
            self.session.execute(update(Shipment).where(Shipment.id.in_(ids[start:start + 500]))
                                 .values(next_check_at=None, registered_at=None,
                                         stopped_reason=STOPPED))
