"""The generic JSON format: recorded pushes parse; every mistake names its field."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ordertrail.carrier.base import CarrierEvent, MalformedPayload
from ordertrail.carrier.generic import parse

DATA = Path(__file__).parent / "data"


def _load(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _parse(body: dict[str, Any]) -> list:
    return parse.parse_body(json.dumps(body, ensure_ascii=False).encode())


def test_a_fleet_push_parses_into_updates():
    fleet, tpl = parse.parse_body((DATA / "push_fleet.json").read_bytes())
    assert fleet.tracking_number == "HZ-FLEET-000123"
    assert fleet.courier is None and fleet.stopped is False and fleet.stop_reason is None
    assert fleet.estimated_delivery == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    assert fleet.events == (
        CarrierEvent(datetime(2026, 11, 20, 1, 12, tzinfo=UTC), "in_transit",
                     "in_transit.picked_up", "司机 李强 已在【杭州萧山仓】装车", "LOADED",
                     "浙江省杭州市萧山区"),
        CarrierEvent(datetime(2026, 11, 20, 7, 40, tzinfo=UTC), "in_transit",
                     "in_transit.other", "车辆途经【嘉兴服务区】", "GPS", "浙江省嘉兴市"),
    )
    assert tpl.courier == "sf"                       # slugs are lower case
    assert tpl.stopped is True and tpl.stop_reason
    assert tpl.events[-1].substatus == "delivered.signed_by_proxy"
    assert tpl.events[-1].occurred_at == datetime(2026, 11, 20, 5, 31, 27, 250000, tzinfo=UTC)
    assert all(e.occurred_at.tzinfo is UTC for u in (fleet, tpl) for e in u.events)


def test_the_minimal_push_needs_only_four_fields_per_event():
    [update] = parse.parse_body((DATA / "push_minimal.json").read_bytes())
    [event] = update.events
    assert (event.status, event.substatus) == ("info_received", "info_received.other")
    assert event.code is None and event.location is None
    assert update.courier is None and update.estimated_delivery is None


def test_an_update_without_events_and_an_empty_body_are_fine():
    assert _parse({"updates": []}) == []
    [update] = _parse({"updates": [{"tracking_number": "X1", "stopped": True}]})
    assert update.events == () and update.stopped


def test_what_it_writes_it_reads_back():
    updates = parse.parse_body((DATA / "push_fleet.json").read_bytes())
    again = _parse(parse.body_json(updates))
    assert again == updates


def _break(path: str, value: Any, drop: bool = False) -> dict[str, Any]:
    body = copy.deepcopy(_load("push_fleet.json"))
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if drop:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return body


@pytest.mark.parametrize(("body", "reason"), [
    (_break("updates.0.events.1.occurred_at", "2026-11-20T15:40:00"),
     "updates.0.events.1.occurred_at: Input should have timezone info"),
    (_break("updates.0.events.1.occurred_at", 1763600000),
     "updates.0.events.1.occurred_at: Input should be a valid datetime"),
    (_break("updates.0.events.1.occurred_at", "2026-11-20"),
     "updates.0.events.1.occurred_at: Input should be a valid datetime"),
    (_break("updates.1.events.0.status", "shipped"),
     "updates.1.events.0.status: Input should be 'pending', 'info_received'"),
    (_break("updates.1.events.1.substatus", "in_transit.arrived"),
     "updates.1.events.1.substatus: 'in_transit.arrived' is not a substatus of 'delivered'"),
    (_break("updates.1.events.1.substatus", "delivered.teleported"),
     "updates.1.events.1.substatus: unknown substatus 'delivered.teleported'"),
    (_break("updates.0.events.0.description", "  "),
     "updates.0.events.0.description: String should have at least 1 character"),
    (_break("updates.0.events.0.description", None, drop=True),
     "updates.0.events.0.description: Field required"),
    (_break("updates.0.tracking_number", 123456),
     "updates.0.tracking_number: Input should be a valid string"),
    (_break("updates.1.stopped", "yes"), "updates.1.stopped: Input should be a valid boolean"),
    (_break("updates.0.estimated_delivery", "2026-11-21T18:00:00"),
     "updates.0.estimated_delivery: Input should have timezone info"),
    (_break("updates.0.events.0.loaction", "Hangzhou"),
     "updates.0.events.0.loaction: Extra inputs are not permitted"),
    (_break("updates", {"tracking_number": "X"}), "updates: Input should be a valid array"),
    ({"updates": [{"tracking_number": str(n)} for n in range(1001)]},
     "updates: List should have at most 1000 items"),
    ({}, "updates: Field required"),
])
def test_mistakes_are_named_by_their_field_path(body, reason):
    with pytest.raises(MalformedPayload) as caught:
        _parse(body)
    assert caught.value.reason.startswith(reason), caught.value.reason


def test_several_mistakes_are_counted():
    body = _break("updates.0.events.0.status", "nope")
    body["updates"][1]["events"][0]["occurred_at"] = "yesterday"
    with pytest.raises(MalformedPayload, match=r"\(and 1 more\)$"):
        _parse(body)


@pytest.mark.parametrize("raw", [b"", b"not json", b"\xff\xfe", b"[]", b'{"updates": [}'])
def test_unreadable_bodies_are_malformed(raw):
    with pytest.raises(MalformedPayload, match=r"^body: "):
        parse.parse_body(raw)


def test_exactly_1000_updates_are_allowed():
    body = {"updates": [{"tracking_number": f"N{n}"} for n in range(1000)]}
    assert len(_parse(body)) == 1000
    with pytest.raises(ValueError, match="at most 1000"):
        parse.body_json(_parse(body) * 2)
