"""AfterShip webhooks become updates with UTC times, our statuses and an estimated delivery."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordertrail.carrier.aftership.parse import parse_tracking, parse_webhook
from ordertrail.carrier.aftership.plugin import AfterShip
from ordertrail.carrier.base import InboundRequest, TrackingUpdate
from tests.carrier.helpers import JSON, assert_parses_or_is_malformed, malformed_reason, utc

DATA = Path(__file__).parent / "data"


def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _one(body: bytes) -> TrackingUpdate:
    updates = parse_webhook(body)
    assert len(updates) == 1
    return updates[0]


def _webhook(msg: Any, event: str = "tracking_update", **extra: Any) -> bytes:
    return json.dumps({"event": event, "msg": msg, "ts": 1795156872, **extra}).encode()


def _tracking(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"tracking_number": "T1", "slug": "ups", "tag": "InTransit",
                            "subtag": "InTransit_001", "checkpoints": []}
    return base | fields


def _cp(time: str, **fields: Any) -> dict[str, Any]:
    return {"checkpoint_time": time, "tag": "InTransit", "subtag": "InTransit_001",
            "message": "m"} | fields


# --- recorded payloads --------------------------------------------------------------------

def test_sdk_tracking_in_a_webhook_envelope():
    tracking = _load("sdk_GetTrackingResult.json")["data"]["tracking"]
    update = _one(_webhook(tracking))
    assert update.tracking_number == "111111111111"
    assert update.courier == "fedex"
    assert len(update.events) == 14
    first, pickup, last = update.events[0], update.events[1], update.events[-1]
    assert (first.occurred_at, first.substatus) == (utc(2018, 7, 23, 6, 21, 39),
                                                    "info_received.label_created")
    assert (pickup.occurred_at, pickup.substatus, pickup.code, pickup.location) == (
        utc(2018, 7, 23, 8, 58), "in_transit.picked_up", "InTransit_002", "DONGGUAN CN")
    assert (last.occurred_at, last.status, last.description) == (
        utc(2018, 7, 25, 1, 10), "delivered", "Delivered")
    # latest_estimated_delivery wins over the (null) legacy and AI fields.
    assert update.estimated_delivery == utc(2022, 1, 5, 11, 11, 11)
    assert update.stopped and update.stop_reason
    assert update.unmapped == ()
    assert all(e.occurred_at.tzinfo is UTC for e in update.events)


def test_sdk_expired_trackings_without_checkpoints_record_the_expiry():
    trackings = _load("sdk_GetTrackingsResult.json")["data"]["trackings"]
    delivered, expired_ups, expired_usps = (parse_tracking(t) for t in trackings)
    assert delivered.events[-1].substatus == "delivered.other"
    assert delivered.estimated_delivery == utc(2018, 8, 1)  # AI date, no zone known: UTC
    for update in (expired_ups, expired_usps):
        [event] = update.events
        assert (event.substatus, event.code) == ("expired.no_update", "Expired_001")
        assert update.stopped


def test_offsetless_times_without_a_country_or_home_zone_are_utc():
    # The SDK fixtures hold one FedEx tracking twice: with offsets, and without (UTC values).
    with_offsets = parse_tracking(_load("sdk_GetTrackingsResult.json")["data"]["trackings"][0])
    without = parse_tracking(_load("sdk_UpdateTrackingResult.json")["data"]["tracking"])
    assert [e.occurred_at for e in without.events] == [e.occurred_at for e in with_offsets.events]
    assert [e.substatus for e in without.events] == [e.substatus for e in with_offsets.events]


def test_sf_express_in_china_local_times_and_a_date_range_estimate():
    update = _one((DATA / "own_sf_in_transit_cn.json").read_bytes())
    assert (update.tracking_number, update.courier) == ("SF1234567890123", "sf")
    times = [e.occurred_at for e in update.events]
    assert times == [
        utc(2026, 11, 18, 9, 32),   # 17:32 in China, no offset given
        utc(2026, 11, 18, 13, 5),
        utc(2026, 11, 18, 18, 47),
        utc(2026, 11, 19, 15, 58),  # no country on the scan: SF's home time
        utc(2026, 11, 19, 22, 40),  # "+08:00" given
    ]
    assert [e.substatus for e in update.events] == [
        "in_transit.picked_up", "in_transit.arrived", "in_transit.departed",
        "in_transit.arrived", "in_transit.departed"]
    assert update.events[0].description == "顺丰速运 已收取快件"
    assert update.events[0].location == "深圳市宝安区"
    # latest_estimated_delivery is a range: its upper end, midnight in the recipient's zone.
    assert update.estimated_delivery == utc(2026, 11, 20, 16)
    assert not update.stopped and update.unmapped == ()


def test_edd_revise_with_v4_fields_and_offsetless_times_by_country():
    update = _one((DATA / "own_ups_edd_revise_v4.json").read_bytes())
    assert [e.occurred_at for e in update.events] == [
        utc(2026, 11, 17, 23, 44),  # -05:00 given
        utc(2026, 11, 17, 20, 2),   # USA has several zones: read as UTC
        utc(2026, 11, 18, 6, 12),   # Germany, winter: UTC+1
        utc(2026, 11, 18, 8, 30),
    ]
    assert update.events[-1].substatus == "in_transit.customs_processing"
    assert update.events[2].location == "Köln, Germany"
    assert update.estimated_delivery == utc(2026, 11, 25, 17)  # 18:00 Berlin
    assert len(update.events) == 4  # the tracking's tag is the newest scan's: nothing added


def test_refused_and_returned_to_sender_stops_tracking():
    update = _one((DATA / "own_yto_returned.json").read_bytes())
    assert [e.substatus for e in update.events] == [
        "in_transit.picked_up", "attempt_fail.no_one_home", "exception.refused",
        "exception.returning", "exception.returned"]
    assert update.events[0].occurred_at == utc(2026, 11, 14, 8, 20)  # YTO: Beijing time
    assert update.stopped and "Exception" in (update.stop_reason or "")


def test_unmapped_codes_are_kept_on_the_event_and_listed():
    update = _one((DATA / "own_zto_unmapped.json").read_bytes())
    assert [(e.substatus, e.code) for e in update.events] == [
        ("in_transit.other", "InTransit_001"),
        ("pending.unknown", "OnHold_001"),
        ("exception.unknown", "Exception_015"),
    ]
    assert update.events[1].description == "快件暂存于 广州中转部"
    assert update.unmapped == ("OnHold_001", "Exception_015")
    assert update.courier == "zto"


def test_the_plugin_parses_through_the_provider_contract():
    body = (DATA / "own_yto_returned.json").read_bytes()
    assert AfterShip().parse_push(InboundRequest(headers={}, body=body)) == parse_webhook(body)


# --- tracking-level status not seen in any checkpoint -------------------------------------

def test_a_tracking_tag_no_checkpoint_shows_is_recorded_once_at_updated_at():
    tracking = _tracking(tag="Exception", subtag="Exception_013", subtag_message="Lost",
                         updated_at="2026-11-20T03:00:00Z",
                         checkpoints=[_cp("2026-11-10T08:00:00+08:00")])
    update = parse_tracking(tracking)
    assert [(e.substatus, e.occurred_at, e.description) for e in update.events] == [
        ("in_transit.other", utc(2026, 11, 10), "m"),
        ("exception.lost", utc(2026, 11, 20, 3), "Lost")]


def test_without_updated_at_the_webhook_time_is_used():
    body = _webhook(_tracking(tag="Expired", subtag="Expired_001"), ts=1795156872)
    [event] = _one(body).events
    assert event.occurred_at == utc(2026, 11, 20, 6, 41, 12)


def test_no_time_at_all_means_no_invented_event():
    tracking = _tracking(tag="Expired", subtag="Expired_001")
    assert parse_tracking(tracking).events == ()
    assert parse_tracking(tracking).stopped  # expired is final


# --- times --------------------------------------------------------------------------------

@pytest.mark.parametrize(("checkpoint", "expected"), [
    (_cp("2026-11-18T17:32:00+08:00"), utc(2026, 11, 18, 9, 32)),
    (_cp("2026-11-18T09:32:00Z"), utc(2026, 11, 18, 9, 32)),
    (_cp("2026-11-18T17:32:00+0800"), utc(2026, 11, 18, 9, 32)),
    (_cp("2026-11-18T17:32:00", country_iso3="CHN"), utc(2026, 11, 18, 9, 32)),
    (_cp("2026-11-18T17:32:00", country_region="chn"), utc(2026, 11, 18, 9, 32)),
    (_cp("2026-07-01T12:00:00", country_iso3="DEU"), utc(2026, 7, 1, 10)),  # summer time
    (_cp("2026-11-18T17:32:00", country_iso3="USA"), utc(2026, 11, 18, 17, 32)),
    (_cp("2026-11-18T17:32:00", slug="sf-express"), utc(2026, 11, 18, 9, 32)),
    (_cp("2026-11-18"), utc(2026, 11, 18)),
    (_cp("2026-11-18", country_iso3="JPN"), utc(2026, 11, 17, 15)),
    (_cp("2026-11-18T17:32:00.250Z"), datetime(2026, 11, 18, 17, 32, 0, 250000, UTC)),
])
def test_checkpoint_times_resolve_to_aware_utc(checkpoint, expected):
    [event] = parse_tracking(_tracking(checkpoints=[checkpoint])).events
    assert event.occurred_at == expected and event.occurred_at.tzinfo is UTC


def test_a_chinese_courier_s_offsetless_times_are_beijing_time():
    tracking = _tracking(slug="zto-express", checkpoints=[_cp("2026-11-18T17:32:00")])
    assert parse_tracking(tracking).events[0].occurred_at == utc(2026, 11, 18, 9, 32)


def test_the_provider_time_zone_is_the_last_resort():
    tracking = _tracking(slug="unknown-courier", checkpoints=[_cp("2026-11-18T17:32:00")])
    assert parse_tracking(tracking).events[0].occurred_at == utc(2026, 11, 18, 17, 32)
    shanghai = parse_tracking(tracking, fallback_tz="Asia/Shanghai")
    assert shanghai.events[0].occurred_at == utc(2026, 11, 18, 9, 32)


# --- estimated delivery -------------------------------------------------------------------

LATEST = {"type": "specific", "source": "Carrier EDD", "datetime": "2026-11-24T18:00:00+01:00"}
COURIER = {"estimated_delivery_date": "2026-11-25"}
AI = {"estimated_delivery_date": "2026-11-26", "confidence_code": 2}
CUSTOM = {"type": "specific", "datetime": "2026-11-27"}


@pytest.mark.parametrize(("fields", "expected"), [
    ({"latest_estimated_delivery": LATEST, "courier_estimated_delivery_date": COURIER,
      "aftership_estimated_delivery_date": AI, "custom_estimated_delivery_date": CUSTOM,
      "expected_delivery": "2026-11-28"}, utc(2026, 11, 24, 17)),
    ({"courier_estimated_delivery_date": COURIER, "aftership_estimated_delivery_date": AI,
      "expected_delivery": "2026-11-28"}, utc(2026, 11, 25)),
    ({"aftership_estimated_delivery_date": AI, "custom_estimated_delivery_date": CUSTOM},
     utc(2026, 11, 26)),
    ({"custom_estimated_delivery_date": CUSTOM}, utc(2026, 11, 27)),
    ({"expected_delivery": "2026-11-28T10:00:00+08:00"}, utc(2026, 11, 28, 2)),
    ({"latest_estimated_delivery": {"type": "range", "datetime": None,
                                    "datetime_min": "2026-11-22", "datetime_max": "2026-11-23"}},
     utc(2026, 11, 23)),
    ({"aftership_estimated_delivery_date": {"estimated_delivery_date": None,
                                            "estimated_delivery_date_min": "2026-11-22",
                                            "estimated_delivery_date_max": "2026-11-24"}},
     utc(2026, 11, 24)),
    ({"latest_estimated_delivery": None, "aftership_estimated_delivery_date": None,
      "expected_delivery": None}, None),
    ({}, None),
])
def test_estimated_delivery_prefers_aftership_s_latest_then_carrier_ai_custom(fields, expected):
    assert parse_tracking(_tracking(**fields)).estimated_delivery == expected


def test_a_date_only_estimate_is_midnight_where_the_recipient_is():
    tracking = _tracking(destination_country_iso3="CHN", expected_delivery="2026-11-25")
    assert parse_tracking(tracking).estimated_delivery == utc(2026, 11, 24, 16)


# --- other events, malformed payloads -----------------------------------------------------

@pytest.mark.parametrize("event", ["edd_revise", "tracking_pending_time"])
def test_every_event_that_carries_a_tracking_is_parsed(event):
    assert _one(_webhook(_tracking(), event=event)).tracking_number == "T1"


def test_an_event_without_a_tracking_is_accepted_and_ignored():
    assert parse_webhook(json.dumps({"event": "some_future_event", "msg": {}}).encode()) == []


@pytest.mark.parametrize(("body", "field"), [
    (b"not json", "body"),
    (b"\xff\xfe", "body"),
    (b"[" * 100_000, "body"),
    (b"[]", "body"),
    (b'{"msg": {}}', "event"),
    (b'{"event": 7, "msg": {}}', "event"),
    (b'{"event": "tracking_update"}', "msg"),
    (b'{"event": "tracking_update", "msg": []}', "msg"),
    (_webhook({"slug": "ups"}), "msg.tracking_number"),
    (_webhook(_tracking(tracking_number=123)), "msg.tracking_number"),
    (_webhook(_tracking(checkpoints={"a": 1})), "msg.checkpoints"),
    (_webhook(_tracking(checkpoints=["x"])), "msg.checkpoints[0]"),
    (_webhook(_tracking(checkpoints=[{"tag": "InTransit"}])), "msg.checkpoints[0].checkpoint_time"),
    (_webhook(_tracking(checkpoints=[_cp("yesterday")])), "msg.checkpoints[0].checkpoint_time"),
    (_webhook(_tracking(checkpoints=[_cp("2026-02-30T10:00:00")])),
     "msg.checkpoints[0].checkpoint_time"),
    (_webhook(_tracking(checkpoints=[_cp("2026-11-18", tag=None, subtag=None)])),
     "msg.checkpoints[0].tag"),
    (_webhook(_tracking(checkpoints=[_cp("2026-11-18", message=["x"])])),
     "msg.checkpoints[0].message"),
    (_webhook(_tracking(tag=5)), "msg.tag"),
    (_webhook(_tracking(latest_estimated_delivery="2026-11-20")), "msg.latest_estimated_delivery"),
    (_webhook(_tracking(expected_delivery="soon")), "msg.expected_delivery"),
    (_webhook(_tracking(), ts="1795156872"), "ts"),
    (_webhook(_tracking(), ts=10**20), "ts"),
])
def test_malformed_payloads_name_the_field(body, field):
    reason = malformed_reason(parse_webhook, body)
    assert reason.startswith(field), reason


CHECKPOINT = st.fixed_dictionaries({
    "checkpoint_time": st.sampled_from(["2026-11-18T17:32:00", "2026-11-18T17:32:00+08:00",
                                        "2026-11-18", "bad", ""]) | JSON,
    "tag": st.sampled_from(["InTransit", "Delivered", "Exception", "Nope", ""]) | JSON,
    "subtag": st.sampled_from(["InTransit_003", "Exception_013", "Exception_099", ""]) | JSON,
    "country_iso3": st.sampled_from(["CHN", "USA", None]) | JSON,
})


@given(st.one_of(
    JSON,
    st.fixed_dictionaries({"event": st.just("tracking_update"), "msg": JSON}),
    st.fixed_dictionaries({"event": st.just("tracking_update"), "msg": st.fixed_dictionaries({
        "tracking_number": st.text(), "tag": JSON, "subtag": JSON,
        "checkpoints": st.lists(CHECKPOINT, max_size=4),
        "latest_estimated_delivery": JSON})}),
))
def test_any_json_either_parses_into_known_statuses_or_is_malformed(payload):
    assert_parses_or_is_malformed(parse_webhook, payload)
