"""Simulated parcel journeys: pure and deterministic (same inputs, same journey).

A journey is a list of events at offsets of *simulated* time from registration (hours to
days, like real parcels), already in the unified status language, written the way the
courier would: Chinese courier style for domestic couriers, English for international ones.
Routes run through real cities and line-haul hubs; cross-border journeys clear customs on
both sides. The scenario comes from the rates, drawn from the seed and the tracking number,
unless it is given. The server turns offsets into real times by dividing by ``speed``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from ordertrail.carrier.base import CarrierEvent
from ordertrail.carrier.sim.places import (
    CN_CITIES,
    COMMUNITIES,
    COURIERS,
    COURIERS_ON_FOOT,
    FOREIGN_CITIES,
    GATEWAY,
    MIDDLE_HUBS,
    RECIPIENTS,
    SIM_COURIER,
    City,
    Courier,
    find_city,
    known_city,
)
from ordertrail.carrier.status import status_of, substatus

SCENARIOS: tuple[str, ...] = ("normal", "delay", "failed_attempt", "return", "lost", "locker",
                              "customs")


@dataclass(frozen=True, slots=True)
class Rates:
    """How often each non-normal scenario is drawn when none is asked for (0..1 each)."""

    delay_rate: float = 0.10
    failed_attempt_rate: float = 0.08
    return_rate: float = 0.03
    lost_rate: float = 0.01
    locker_rate: float = 0.15
    customs_rate: float = 0.25   # of cross-border parcels only

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        if self.delay_rate + self.failed_attempt_rate + self.return_rate + self.lost_rate \
                + self.locker_rate + self.customs_rate > 1.0:
            raise ValueError("the scenario rates add up to more than 1")


@dataclass(frozen=True, slots=True)
class JourneyEvent:
    """One planned checkpoint; ``offset`` and ``eta`` are simulated time since registration."""

    offset: timedelta
    status: str
    substatus: str
    description: str
    code: str
    location: str
    eta: timedelta | None = None   # promised delivery as known at this event


@dataclass(frozen=True, slots=True)
class Journey:
    """A parcel's whole simulated life."""

    tracking_number: str
    courier: str | None
    courier_name: str
    scenario: str
    cross_border: bool
    language: str
    origin: str
    destination: str
    events: tuple[JourneyEvent, ...]


# -- Building ---------------------------------------------------------------------------------

@dataclass(slots=True)
class _Draft:
    offset: timedelta
    substatus: str
    description: str
    code: str
    location: str
    slip: timedelta


@dataclass
class _Builder:
    """Appends events while simulated time moves on; ``slip`` counts delays not promised."""

    rng: random.Random
    registered_at: datetime
    zh: bool
    courier: Courier
    at: timedelta = timedelta(0)
    slip: timedelta = timedelta(0)
    planned_end: timedelta = timedelta(0)   # delivery as first promised
    drafts: list[_Draft] = field(default_factory=list)

    def wait(self, low: float, high: float, slip: bool = False) -> None:
        """Let between ``low`` and ``high`` hours pass (a delay the promise did not expect)."""
        step = timedelta(minutes=round(self.rng.uniform(low, high) * 60))
        self.at += step
        if slip:
            self.slip += step
            if self.drafts:  # the last event is the one that announced the delay
                self.drafts[-1].slip = self.slip

    def daytime(self, city: City, until: int = 20) -> None:
        """Move on to working hours (08:00 to ``until``) in ``city`` if they are over there."""
        local = self.registered_at + self.at + timedelta(hours=city.utc_offset)
        if 8 <= local.hour < until:
            return
        days = 1 if local.hour >= until else 0
        start = local.replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(days=days)
        self.at += start - local + timedelta(minutes=self.rng.randint(0, 90))

    def tag(self, city: City) -> str:
        """``【深圳市】`` as Chinese couriers prefix a scan."""
        return f"【{city.zh}市】" if city.country == "CN" else f"【{city.region_zh}{city.zh}】"

    def name(self, city: City) -> str:
        return city.zh if self.zh else city.en.upper()

    def place(self, city: City) -> str:
        if self.zh:
            if city.country != "CN":
                return f"{city.region_zh}{city.zh}"
            same = city.region_zh in ("", city.zh)
            return f"{city.zh}市" if same else f"{city.region_zh}省{city.zh}市"
        return f"{city.en}, {city.country}" if city.country else city.en

    def add(self, detail: str, zh: str, en: str, code: str, city: City) -> None:
        status, _, rest = detail.partition(".")
        self.drafts.append(_Draft(self.at, substatus(status, rest), zh if self.zh else en, code,
                                  self.place(city), self.slip))

    def hub(self, city: City) -> str:
        return f"{city.zh}{self.courier.hub}" if self.zh else f"{city.en.upper()} HUB"

    def station(self, city: City) -> str:
        if self.zh:
            return f"{city.zh}{self.courier.station}"
        return f"{city.en.upper()} DELIVERY STATION"

    def truncate(self, count: int) -> None:
        """Forget every event after the first ``count``; time resumes from the last kept."""
        del self.drafts[count:]
        self.at, self.slip = self.drafts[-1].offset, self.drafts[-1].slip


def plan(tracking_number: str, courier: str | None, registered_at: datetime,
         scenario: str | None = None, rates: Rates | None = None, seed: int = 0,
         destination_city: str | None = None) -> Journey:
    """The journey of one parcel; the same arguments always give the same journey."""
    if registered_at.tzinfo is None:
        raise ValueError("registered_at must be timezone-aware")
    if scenario is not None and scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    rates = rates or Rates()
    info = COURIERS.get((courier or "").lower()) if courier else SIM_COURIER
    if info is None:  # a courier we have no table entry for: an English-speaking one
        info = Courier(courier or "", (courier or "").upper(), False)
    rng = random.Random(f"ordertrail-sim:{seed}:{tracking_number}:route")
    dest = find_city(destination_city) if destination_city else None
    cross = (not info.domestic or scenario == "customs"
             or (dest is not None and dest.country != "CN"))
    if dest is None:
        dest = rng.choice(FOREIGN_CITIES if cross else CN_CITIES)
    if cross and dest.country == "CN":
        origin = rng.choice(FOREIGN_CITIES)
    else:
        origin = rng.choice([c for c in CN_CITIES if c.zh != dest.zh])
    if scenario is None:
        scenario = _draw(tracking_number, seed, rates, cross)
    b = _Builder(rng, registered_at, info.domestic, info)
    _forward(b, origin, dest, cross, scenario)
    b.planned_end = b.drafts[-1].offset - b.slip
    if scenario == "lost":
        _lose(b)
    elif scenario == "return":
        _return(b, origin, dest, cross)
    events = _finish(b)
    return Journey(tracking_number, courier, info.zh if info.domestic else info.en, scenario,
                   cross, "zh" if info.domestic else "en", b.place(origin), b.place(dest),
                   events)


def _draw(tracking_number: str, seed: int, rates: Rates, cross: bool) -> str:
    u = random.Random(f"ordertrail-sim:{seed}:{tracking_number}:scenario").random()
    for name, rate in (("lost", rates.lost_rate), ("return", rates.return_rate),
                       ("failed_attempt", rates.failed_attempt_rate),
                       ("delay", rates.delay_rate),
                       ("customs", rates.customs_rate if cross else 0.0),
                       ("locker", rates.locker_rate)):
        if u < rate:
            return name
        u -= rate
    return "normal"


def _forward(b: _Builder, origin: City, dest: City, cross: bool, scenario: str) -> None:
    """Info received, pickup, hubs (and customs), out for delivery, delivery."""
    c = b.courier
    b.wait(0.05, 0.5)
    b.add("info_received.label_created",
          f"{b.tag(origin)}商家已下单，{c.zh} 已生成运单，等待揽收",
          f"Shipment information received — {b.name(origin)}", "IR", origin)
    b.wait(1, 5)
    b.daytime(origin)
    b.add("in_transit.picked_up", f"{b.tag(origin)}{c.zh} 已收取快件",
          f"Picked up by {c.en} — {b.name(origin)}", "PU", origin)
    # Line-haul: a list of (place, hub name) stops the parcel is scanned in and out of.
    if cross:
        stops = _cross_border_stops(b, origin, dest)
    else:
        cities = [origin, dest]
        if origin.area != dest.area and b.rng.random() < 0.7:  # via a central hub
            middle = [h for h in MIDDLE_HUBS if h not in (origin.zh, dest.zh)]
            cities.insert(1, known_city(b.rng.choice(middle)))
        stops = [(city, b.hub(city)) for city in cities]
    delay_at = b.rng.randrange(len(stops) - 1) if scenario == "delay" else -1
    fast = c in (COURIERS["sf"], COURIERS["jd"])  # these fly their line-haul
    b.wait(1, 4)
    b.add("in_transit.arrived", f"快件到达 【{stops[0][1]}】", f"Arrived at {stops[0][1]}",
          "AR", stops[0][0])
    for i, ((here, here_name), (there, there_name)) in enumerate(pairwise(stops)):
        if cross and here.country != there.country:
            _customs_flight(b, (here, here_name), (there, there_name), scenario, i == delay_at)
            continue
        b.wait(0.5, 3)
        b.add("in_transit.departed", f"快件已从【{here_name}】发出，正在发往【{there_name}】",
              f"Departed {here_name}, bound for {there_name}", "DP", here)
        if i == delay_at:
            _delay(b, here)
        far = here.area != there.area
        b.wait(*((5, 12) if far and fast else (10, 26) if far else (3, 8)))
        b.add("in_transit.arrived", f"快件到达 【{there_name}】", f"Arrived at {there_name}",
              "AR", there)
    b.wait(0.5, 3)
    b.add("in_transit.departed",
          f"快件已从【{stops[-1][1]}】发出，正在发往【{b.station(dest)}】",
          f"Departed {stops[-1][1]}, bound for {b.station(dest)}", "DP", dest)
    b.wait(1, 4)
    b.add("in_transit.arrived", f"快件到达 【{b.station(dest)}】",
          f"Arrived at delivery facility — {b.name(dest)}", "AR", dest)
    _deliver(b, dest, scenario)


def _cross_border_stops(b: _Builder, origin: City, dest: City) -> list[tuple[City, str]]:
    """Origin hub and gateway, then destination gateway and hub, for international legs."""
    stops: list[tuple[City, str]] = []
    for city in (origin, dest):
        if city.country == "CN":
            gateway = known_city(GATEWAY.get(city.area, "上海"))
            gw_name = f"{gateway.zh}国际快件中心" if b.zh else f"{gateway.en.upper()} GATEWAY"
            legs = [(gateway, gw_name)]
            if gateway.zh != city.zh:
                legs.append((city, b.hub(city)))
            stops.extend(legs if city is dest else legs[::-1])
        else:
            stops.append((city, f"{city.zh}国际转运中心" if b.zh else f"{b.name(city)} GATEWAY"))
    return stops


def _customs_flight(b: _Builder, start: tuple[City, str], end: tuple[City, str],
                    scenario: str, delayed: bool) -> None:
    """Export clearance, the flight, import clearance (held for papers in ``customs``)."""
    (here, here_name), (there, there_name) = start, end
    b.wait(1, 4)
    b.add("in_transit.customs_processing", f"快件在【{here_name}】进行出口报关",
          f"Export customs clearance in progress — {b.name(here)}", "CP", here)
    b.wait(2, 8)
    b.add("in_transit.customs_released", "出口报关已放行",
          f"Export clearance complete — {b.name(here)}", "CR", here)
    b.wait(3, 12)
    b.add("in_transit.departed", f"快件已从【{here_name}】启运，航班发往【{there.zh}】",
          f"Departed {here_name}, in transit to {b.name(there)}", "DP", here)
    if delayed:
        _delay(b, here)
    b.wait(14, 40)
    b.add("in_transit.arrived", f"快件到达 【{there_name}】",
          f"Arrived at {there_name}", "AR", there)
    b.wait(1, 4)
    b.add("in_transit.customs_processing", "快件正在目的地海关进行进口清关",
          f"Customs clearance in progress — {b.name(there)}", "CP", there)
    if scenario == "customs":
        b.wait(2, 6)
        b.add("in_transit.customs_info_required",
              "海关要求补充收件人身份信息，请留意短信通知并尽快提交",
              "Customs clearance delay: the importer's tax ID is required; "
              "the receiver has been contacted", "CI", there)
        b.wait(24, 72, slip=True)
    b.wait(3, 20)
    b.add("in_transit.customs_released", "进口清关完成，快件已放行",
          f"Clearance processing complete — {b.name(there)}", "CR", there)


def _delay(b: _Builder, city: City) -> None:
    zh, en = b.rng.choice((
        ("受天气影响，干线运输延误，快件将延迟送达，给您带来不便敬请谅解",
         "Shipment delayed by adverse weather; it will move as soon as conditions allow"),
        ("因交通管制，运输车辆延误，快件预计晚到1-2天",
         "Delay: missed connection; shipment will leave on the next available transport"),
    ))
    b.wait(1, 3)
    b.add("in_transit.delayed", zh, en, "DY", city)
    b.wait(24, 48, slip=True)


def _deliver(b: _Builder, dest: City, scenario: str) -> None:
    """Out for delivery and the end: signed, a failed attempt first, or a locker pickup."""
    _out_for_delivery(b, dest)
    if scenario == "failed_attempt":
        reason, zh, en = b.rng.choice((
            ("no_one_home", "收件人不在，电话无人接听",
             "Delivery attempted - recipient not available"),
            ("address_issue", "收件地址不详，正在联系收件人核实",
             "Delivery attempted - address incomplete, contacting the recipient"),
            ("rescheduled", "收件人要求改日派送",
             "Delivery rescheduled at the recipient's request"),
        ))
        b.wait(1, 4)
        b.add(f"attempt_fail.{reason}", f"{b.tag(dest)}快件派送不成功：{zh}，我们将再次为您派送",
              en, "AF", dest)
        before = b.at
        b.wait(10, 16)
        b.daytime(dest)
        b.slip += b.at - before
        b.drafts[-1].slip = b.slip
        _out_for_delivery(b, dest)
    b.wait(0.5, 4)
    b.daytime(dest, until=21)
    if scenario == "locker":
        code = f"{b.rng.randint(0, 999999):06d}"
        place = b.rng.choice(COMMUNITIES)
        kind, zh_box = b.rng.choice((("locker", "丰巢智能柜"), ("station", "菜鸟驿站")))
        b.add(f"available_for_pickup.{kind}",
              f"快件已存放至【{place}{zh_box}】，请凭取件码 {code} 及时取件",
              f"Available for collection at a parcel {'locker' if kind == 'locker' else 'shop'}"
              f" — {b.name(dest)}; collection code {code}", "LK", dest)
        b.wait(2, 30)
        b.daytime(dest)
        b.add("delivered.picked_up", f"快件已从【{place}{zh_box}】取出，感谢使用{b.courier.zh}",
              "Collected by the recipient", "DL", dest)
        return
    r = b.rng.random()
    if b.zh:
        if r < 0.6:
            b.add("delivered.signed",
                  f"{b.tag(dest)}快件已签收，签收人：本人，感谢使用{b.courier.zh}，期待再次为您服务",
                  "", "DL", dest)
        elif r < 0.85:
            who = b.rng.choice(("门卫", "前台", "家人", "物业"))
            b.add("delivered.signed_by_proxy",
                  f"{b.tag(dest)}快件已签收，签收人：{who}（代签），如有疑问请联系派件员",
                  "", "DL", dest)
        else:
            b.add("delivered.locker", "快件已由【丰巢智能柜】代收，请及时取件", "", "DL", dest)
    elif r < 0.55:
        b.add("delivered.signed", "", f"Delivered — signed for by {b.rng.choice(RECIPIENTS)}",
              "DL", dest)
    elif r < 0.75:
        b.add("delivered.signed_by_proxy", "", "Delivered — signed for by reception", "DL", dest)
    else:
        b.add("delivered.left_at_door", "", "Delivered — left at front door", "DL", dest)


def _out_for_delivery(b: _Builder, dest: City) -> None:
    b.wait(0.5, 3)
    b.daytime(dest, until=17)
    man = b.rng.choice(COURIERS_ON_FOOT)
    phone = f"1{b.rng.choice('3578')}{b.rng.randint(0, 9)}****{b.rng.randint(0, 9999):04d}"
    b.add("out_for_delivery.out_for_delivery",
          f"{b.tag(dest)}快件已交给{man}（电话 {phone}），正在派送途中，请保持电话畅通",
          f"With delivery courier — {b.name(dest)}", "OD", dest)


def _lose(b: _Builder) -> None:
    """Scans stop after a hub; days later the carrier declares the parcel lost."""
    arrivals = [i for i, d in enumerate(b.drafts) if d.substatus == "in_transit.arrived"]
    cut = b.rng.choice(arrivals[:-1] or arrivals)
    last = b.drafts[cut]
    b.truncate(cut + 1)
    b.wait(72, 144)
    b.drafts.append(_Draft(
        b.at, "exception.lost",
        f"经{b.courier.zh}核实，快件在运输途中遗失，我们深表歉意，客服将联系寄件人处理理赔" if b.zh
        else f"Shipment lost in transit after an investigation; {b.courier.en} will contact "
             "the shipper about a claim", "LS", last.location, b.slip))


def _return(b: _Builder, origin: City, dest: City, cross: bool) -> None:
    """Refused at the door, carried back through the hubs, signed for by the sender."""
    first_out = next(i for i, d in enumerate(b.drafts)
                     if d.substatus.startswith("out_for_delivery."))
    b.truncate(first_out + 1)
    b.wait(1, 4)
    if b.rng.random() < 0.5:
        b.add("exception.refused", f"{b.tag(dest)}收件人拒收，快件将退回寄件人",
              "Delivery refused by the recipient; the shipment will be returned to the shipper",
              "RF", dest)
    else:
        b.add("exception.address_issue", f"{b.tag(dest)}收件地址错误且无法联系收件人，快件将退回",
              "Address cannot be found and the recipient cannot be reached; returning",
              "RF", dest)
    b.wait(6, 20)
    b.add("exception.returning", f"退回件已从【{b.station(dest)}】发出，正在退回寄件人途中",
          f"Return to shipper in progress — departed {b.station(dest)}", "RT", dest)
    b.wait(*((96, 200) if cross else (20, 60)))
    b.add("exception.returning", f"退回件到达 【{b.hub(origin)}】",
          f"Return to shipper in progress — arrived at {b.hub(origin)}", "RT", origin)
    b.wait(4, 20)
    b.daytime(origin)
    b.add("exception.returned", f"{b.tag(origin)}退回件已由寄件人签收",
          f"Returned to shipper — {b.name(origin)}", "RS", origin)


def _finish(b: _Builder) -> tuple[JourneyEvent, ...]:
    """Freeze the drafts; each carries the delivery promise as the carrier knew it then."""
    events = []
    gone_wrong = False
    for d in b.drafts:
        status = status_of(d.substatus).value
        gone_wrong = gone_wrong or status == "exception"
        eta = None if gone_wrong else b.planned_end + d.slip
        events.append(JourneyEvent(d.offset, status, d.substatus, d.description, d.code,
                                   d.location, eta))
    return tuple(events)


def due_at(registered_at: datetime, offset: timedelta, speed: float) -> datetime:
    """The real moment a simulated offset is reached at ``speed`` simulated s per real s."""
    return registered_at + offset / speed


def carrier_event(event: JourneyEvent, registered_at: datetime, speed: float) -> CarrierEvent:
    """A planned event stamped with the real time at which it is emitted."""
    return CarrierEvent(occurred_at=due_at(registered_at, event.offset, speed),
                        status=event.status, substatus=event.substatus,
                        description=event.description, code=event.code,
                        location=event.location)
