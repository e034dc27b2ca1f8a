"""Simulated journeys: deterministic, realistic, and always finished in a final status."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordertrail.carrier.sim import journey as jr
from ordertrail.carrier.status import SUBSTATUSES, status_of

AT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)      # 10:00 in Shanghai
CJK = re.compile(r"[\u4e00-\u9fff]")
END = {"lost": {"exception.lost"}, "return": {"exception.returned"}}
COURIERS = ["sf", "jd", "zto", "yto", "ems", "dhl", "fedex", "ups", None, "acme"]
CITIES = {c.zh for c in jr.CN_CITIES + jr.FOREIGN_CITIES}


def _plan(scenario: str | None = None, courier: str | None = "sf", number: str = "SF1400000001",
          **kw) -> jr.Journey:
    return jr.plan(number, courier, AT, scenario, **kw)


def _check(journey: jr.Journey, given_city: str | None = None) -> None:
    """What must hold for every journey."""
    events = journey.events
    assert len(events) >= 4
    assert all(a.offset < b.offset for a, b in pairwise(events)), "times strictly increase"
    assert events[0].offset > timedelta(0)
    for e in events:
        assert e.substatus in SUBSTATUSES and status_of(e.substatus) == e.status
        assert e.description and e.code and e.location
    last = events[-1]
    assert last.substatus in END.get(journey.scenario, set()) or last.status == "delivered"
    assert sum(1 for e in events if e.status == "delivered") <= 1
    customs = [e for e in events if "customs" in e.substatus]
    assert not customs or journey.cross_border, "customs only for cross-border parcels"
    if journey.language == "en":  # a city we do not know keeps the name it was given
        texts = [e.description.replace(given_city or "\0", "") for e in events]
        assert not any(CJK.search(text) for text in texts)


@pytest.mark.parametrize("courier", COURIERS)
@pytest.mark.parametrize("scenario", jr.SCENARIOS)
def test_every_scenario_ends_in_its_final_status(scenario, courier):
    journey = _plan(scenario, courier)
    _check(journey)
    assert journey.scenario == scenario
    subs = [e.substatus for e in journey.events]
    assert subs[0] == "info_received.label_created" and subs[1] == "in_transit.picked_up"
    if scenario == "lost":
        assert subs[-2] == "in_transit.arrived"            # scans stop after a hub ...
        gap = journey.events[-1].offset - journey.events[-2].offset
        assert gap >= timedelta(days=3)                     # ... then, days later, "lost"
        assert not any(s.startswith("out_for_delivery") for s in subs)
    elif scenario == "return":
        first = subs.index("exception.returning")
        assert subs[first - 1] in ("exception.refused", "exception.address_issue")
        assert subs[-1] == "exception.returned"
        assert all(s.startswith("exception.") for s in subs[first - 1:])
    elif scenario == "failed_attempt":
        failed = next(i for i, s in enumerate(subs) if s.startswith("attempt_fail."))
        assert subs[failed - 1] == subs[failed + 1] == "out_for_delivery.out_for_delivery"
        assert subs[-1].startswith("delivered.")
    elif scenario == "locker":
        assert subs[-2] in ("available_for_pickup.locker", "available_for_pickup.station")
        assert subs[-1] == "delivered.picked_up"
    elif scenario == "delay":
        assert "in_transit.delayed" in subs
    elif scenario == "customs":
        assert journey.cross_border and "in_transit.customs_info_required" in subs
    if scenario != "lost":
        assert subs.count("in_transit.customs_released") == (2 if journey.cross_border else 0)


def test_the_same_inputs_give_the_same_journey():
    assert _plan() == _plan()
    assert any(_plan(number=f"X{n}", seed=1) != _plan(number=f"X{n}", seed=2)
               for n in range(5))
    assert _plan(number="SF1400000002") != _plan(number="SF1400000003")


def test_domestic_couriers_write_chinese_and_international_ones_english():
    sf = _plan("normal", "sf")
    assert sf.language == "zh" and not sf.cross_border
    assert sf.events[1].description.startswith("【") and "顺丰速运 已收取快件" in (
        sf.events[1].description)
    assert any(e.description.startswith("快件到达 【") for e in sf.events)
    assert "签收" in sf.events[-1].description or "代收" in sf.events[-1].description
    dhl = _plan("normal", "dhl")
    assert dhl.language == "en" and dhl.cross_border
    assert dhl.events[1].description.startswith("Picked up by DHL Express")


def test_routes_run_through_real_cities():
    for n in range(50):
        journey = _plan(number=f"ZT{n:010d}", courier="zto")
        for place in (journey.origin, journey.destination):
            assert any(city in place for city in CITIES), place
        assert journey.origin != journey.destination


def test_cross_border_clears_customs_on_both_sides():
    export = _plan("normal", "ups", destination_city="Los Angeles")
    subs = [e.substatus for e in export.events]
    assert export.cross_border and export.destination == "Los Angeles, US"
    assert subs.count("in_transit.customs_processing") == 2
    assert subs.count("in_transit.customs_released") == 2
    imported = _plan("normal", "fedex", destination_city="上海")
    assert imported.cross_border and imported.destination == "Shanghai, CN"
    assert "CN" not in imported.origin
    domestic = _plan("normal", "sf", destination_city="成都市")
    assert domestic.destination == "四川省成都市" and not domestic.cross_border
    assert not any("customs" in e.substatus for e in domestic.events)


def test_journeys_take_as_long_as_real_ones():
    for n in range(30):
        domestic = _plan("normal", "yto", number=f"YT{n:010d}")
        assert timedelta(hours=12) < domestic.events[-1].offset < timedelta(days=5)
        abroad = _plan("normal", "dhl", number=f"DH{n:010d}")
        assert timedelta(days=1) < abroad.events[-1].offset < timedelta(days=10)


def test_deliveries_happen_in_the_daytime_there():
    for n in range(30):
        journey = _plan(None, "dhl", number=f"DH{n:010d}")
        city = jr.find_city(journey.destination.split(",")[0])
        for e in journey.events:
            if e.status in ("out_for_delivery", "delivered", "attempt_fail"):
                local = AT + e.offset + timedelta(hours=city.utc_offset)
                assert 8 <= local.hour < 21, (journey.scenario, e.substatus, local)


def test_estimated_delivery_moves_when_the_carrier_says_late():
    delayed = _plan("delay", "zto")
    at_delay = next(i for i, e in enumerate(delayed.events) if e.substatus == "in_transit.delayed")
    before, after = delayed.events[at_delay - 1].eta, delayed.events[at_delay].eta
    assert before is not None and after is not None and after > before
    assert delayed.events[-1].eta == delayed.events[-1].offset
    lost = _plan("lost", "zto")
    assert lost.events[-1].eta is None and lost.events[0].eta is not None


def test_scenarios_are_drawn_from_the_rates():
    counts = Counter(_plan(courier="zto", number=f"ZT{n:08d}").scenario for n in range(3000))
    rates = jr.Rates()
    assert counts["lost"] / 3000 == pytest.approx(rates.lost_rate, abs=0.01)
    assert counts["delay"] / 3000 == pytest.approx(rates.delay_rate, abs=0.02)
    assert counts["locker"] / 3000 == pytest.approx(rates.locker_rate, abs=0.02)
    assert counts["customs"] == 0                      # domestic parcels never
    nothing = jr.Rates(0, 0, 0, 0, 0, 0)
    assert {_plan(number=f"N{n}", rates=nothing).scenario for n in range(50)} == {"normal"}
    always_lost = jr.Rates(0, 0, 0, 1, 0, 0)
    assert {_plan(number=f"N{n}", rates=always_lost).scenario for n in range(50)} == {"lost"}


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="unknown scenario"):
        _plan("teleported")
    with pytest.raises(ValueError, match="timezone-aware"):
        jr.plan("SF1", "sf", datetime(2026, 11, 20))
    with pytest.raises(ValueError, match="between 0 and 1"):
        jr.Rates(delay_rate=1.5)
    with pytest.raises(ValueError, match="more than 1"):
        jr.Rates(0.5, 0.5, 0.5, 0, 0, 0)


def test_time_is_compressed_by_speed():
    journey = _plan("normal", "sf")
    event = journey.events[-1]
    stamped = jr.carrier_event(event, AT, 3600)
    assert stamped.occurred_at == AT + event.offset / 3600
    assert jr.due_at(AT, timedelta(days=3), 3600) == AT + timedelta(seconds=72)


@settings(max_examples=300, deadline=None)
@given(number=st.text(min_size=1, max_size=30), courier=st.sampled_from(COURIERS),
       scenario=st.sampled_from((None, *jr.SCENARIOS)), seed=st.integers(0, 2**32),
       registered=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                               timezones=st.just(UTC)),
       destination=st.sampled_from((None, "深圳", "London", "义乌市", "Atlantis", "拉萨")))
def test_every_journey_is_well_formed(number, courier, scenario, seed, registered, destination):
    journey = jr.plan(number, courier, registered, scenario, seed=seed,
                      destination_city=destination)
    _check(journey, destination)
    assert journey == jr.plan(number, courier, registered, scenario, seed=seed,
                              destination_city=destination)
