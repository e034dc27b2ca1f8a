"""EasyPost tracker Events become updates with UTC times, our statuses and an estimate."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordertrail.carrier.base import InboundRequest, MalformedPayload, TrackingUpdate
from ordertrail.carrier.easypost.parse import parse_tracker, parse_webhook
from ordertrail.carrier.easypost.plugin import EasyPost
from tests.carrier.helpers import JSON, assert_parses_or_is_malformed, malformed_reason, utc

DATA = Path(__file__).parent / "data"


def _one(body: bytes) -> TrackingUpdate:
    updates = parse_webhook(body)
    assert len(updates) == 1
    return updates[0]


def _detail(dt: str = "2026-11-18T10:00:00Z", status: str = "in_transit",
            detail: str | None = "arrived_at_facility", **fields: Any) -> dict[str, Any]:
    return {"object": "TrackingDetail", "message": "m", "status": status,
            "status_detail": detail, "datetime": dt,
            "tracking_location": {"city": "X", "state": None, "country": "US", "zip": None},
            } | fields


def _tracker(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"object": "Tracker", "tracking_code": "EZ1", "carrier": "USPS",
                            "status": "in_transit", "status_detail": "arrived_at_facility",
                            "updated_at": "2026-11-18T10:00:05Z",
                            "tracking_details": [_detail()]}
    return base | fields


def _event(result: Any, description: str = "tracker.updated", **fields: Any) -> bytes:
    return json.dumps({"object": "Event", "description": description, "result": result,
                       **fields}).encode()


# --- recorded payloads --------------------------------------------------------------------

def test_the_official_signed_event_body():
    update = _one((DATA / "examples_event-body.json").read_bytes())
    assert (update.tracking_number, update.courier) == ("1", "fedex")
    assert [e.substatus for e in update.events] == [
        "info_received.label_created", "in_transit.arrived", "in_transit.arrived",
        "in_transit.departed", "in_transit.other", "in_transit.other", "in_transit.arrived"]
    first = update.events[0]
    assert (first.occurred_at, first.code, first.description, first.location) == (
        utc(2024, 7, 31, 15), "pre_transit/label_created", "Shipment information sent to FedEx",
        "32837, US")
    assert update.events[1].location == "ORLANDO, FL, 32809, US"
    # "unknown" is a documented detail: EasyPost knows the status, not the detail.
    assert update.events[4].code == "in_transit/unknown"
    assert update.estimated_delivery == utc(2024, 8, 5)
    assert not update.stopped and update.unmapped == ()


def test_the_tracking_guide_event_without_status_details():
    update = _one((DATA / "examples_tracking-webhook.json").read_bytes())
    assert update.tracking_number == "EZ4000000004" and update.courier == "ups"
    assert [e.substatus for e in update.events] == [
        "info_received.other", "in_transit.other", "in_transit.other", "in_transit.other",
        "out_for_delivery.other", "delivered.other"]
    assert update.estimated_delivery == utc(2014, 11, 27)


def test_an_event_about_another_object_is_accepted_and_ignored():
    assert parse_webhook((DATA / "examples_post_json_example.json").read_bytes()) == []


def test_an_event_as_get_events_returns_it_has_no_result():
    with pytest.raises(MalformedPayload, match=r"^result"):
        parse_webhook((DATA / "examples_events-retrieve.json").read_bytes())


def test_a_recorded_tracker_from_the_python_client():
    tracker = json.loads((DATA / "python_test_tracker_create.0.response.json").read_text())
    update = parse_tracker(tracker["body"])
    assert update.tracking_number == "EZ1000000001" and update.courier == "usps"
    assert {e.substatus for e in update.events} == {"info_received.other"}
    assert all(e.occurred_at.tzinfo is UTC for e in update.events)


def test_return_to_sender_after_a_failed_attempt_and_a_refusal():
    update = _one((DATA / "own_usps_return_to_sender.json").read_bytes())
    assert [(e.substatus, e.occurred_at) for e in update.events] == [
        ("info_received.label_created", utc(2026, 11, 16, 14, 2, 11)),
        ("in_transit.picked_up", utc(2026, 11, 17, 0, 40)),  # "-06:00" given
        ("in_transit.departed", utc(2026, 11, 17, 3, 15)),
        ("out_for_delivery.out_for_delivery", utc(2026, 11, 18, 13, 5)),
        ("attempt_fail.other", utc(2026, 11, 18, 19, 22)),
        ("exception.refused", utc(2026, 11, 19, 15, 10)),     # no offset: UTC
        ("exception.returning", utc(2026, 11, 19, 17, 44)),
        ("exception.returning", utc(2026, 11, 20, 8)),         # the return leg stays a return
    ]
    assert update.events[4].description == "Notice Left (No Authorized Recipient Available)"
    assert update.events[4].code == "out_for_delivery/delivery_exception"
    assert update.courier == "usps" and not update.stopped and update.unmapped == ()


def test_a_cancelled_tracker_without_scans_records_its_own_status():
    update = _one((DATA / "own_ups_cancelled.json").read_bytes())
    [event] = update.events
    assert (event.substatus, event.occurred_at, event.code) == (
        "exception.cancelled", utc(2026, 11, 19, 8), "cancelled/cancelled")
    assert update.courier == "ups"


def test_unmapped_codes_are_kept_on_the_event_and_listed():
    update = _one((DATA / "own_dhl_unmapped.json").read_bytes())
    assert [(e.substatus, e.code) for e in update.events] == [
        ("in_transit.departed", "in_transit/departed_facility"),
        ("pending.unknown", "held_by_customs"),
        ("in_transit.unknown", "in_transit/customs_inspection"),
    ]
    assert update.events[0].occurred_at == utc(2026, 11, 18, 14, 5)
    assert update.events[1].description == "Shipment is on hold"
    assert update.unmapped == ("held_by_customs", "in_transit/customs_inspection")
    assert update.courier == "dhl"
    assert update.estimated_delivery == utc(2026, 11, 23)


def test_delivered_and_finalized_stops_and_uses_the_local_estimated_date():
    update = _one((DATA / "own_fedex_delivered_finalized.json").read_bytes())
    assert update.events[-1].substatus == "delivered.other"
    assert update.events[-1].occurred_at == utc(2026, 11, 24, 19, 5)
    assert update.stopped and "finalized" in (update.stop_reason or "")
    assert update.estimated_delivery == utc(2026, 11, 24)


def test_the_plugin_parses_through_the_provider_contract():
    body = (DATA / "own_usps_return_to_sender.json").read_bytes()
    assert EasyPost().parse_push(InboundRequest(headers={}, body=body)) == parse_webhook(body)


def test_tracker_created_is_parsed_like_tracker_updated():
    body = _event(_tracker(), description="tracker.created")
    assert _one(body).events[0].substatus == "in_transit.arrived"


# --- tracker-level status, times ----------------------------------------------------------

def test_a_new_tracker_with_no_scans_is_pending():
    tracker = _tracker(status="unknown", status_detail=None, tracking_details=[])
    [event] = parse_tracker(tracker).events
    assert event.substatus == "pending.not_found"
    assert event.occurred_at == utc(2026, 11, 18, 10, 0, 5)


def test_a_status_the_newest_scan_already_shows_is_not_repeated():
    tracker = _tracker(tracking_details=[_detail("2026-11-18T09:00:00Z", "pre_transit", None),
                                         _detail("2026-11-18T10:00:00Z")])
    assert len(parse_tracker(tracker).events) == 2


def test_no_time_at_all_means_no_invented_event():
    tracker = _tracker(status="error", tracking_details=[], updated_at=None)
    assert parse_tracker(tracker).events == ()


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-11-18T10:00:00Z", utc(2026, 11, 18, 10)),
    ("2026-11-18T10:00:00.000Z", utc(2026, 11, 18, 10)),
    ("2026-11-18T04:00:00-06:00", utc(2026, 11, 18, 10)),
    ("2026-11-18T19:00:00+09:00", utc(2026, 11, 18, 10)),
    ("2026-11-18T10:00:00", utc(2026, 11, 18, 10)),
    ("2026-11-18", utc(2026, 11, 18)),
])
def test_detail_times_resolve_to_aware_utc(value, expected):
    event = parse_tracker(_tracker(tracking_details=[_detail(value)])).events[0]
    assert event.occurred_at == expected and event.occurred_at.tzinfo is UTC


@pytest.mark.parametrize(("fields", "expected"), [
    ({"est_delivery_date": "2026-11-24T00:00:00Z"}, utc(2026, 11, 24)),
    ({"est_delivery_date": "2026-11-24T17:00:00-05:00"}, utc(2026, 11, 24, 22)),
    ({"est_delivery_date": None, "carrier_detail": {"est_delivery_date_local": "2026-11-25"}},
     utc(2026, 11, 25)),
    ({"est_delivery_date": "2026-11-24T00:00:00Z",
      "carrier_detail": {"est_delivery_date_local": "2026-11-25"}}, utc(2026, 11, 24)),
    ({"est_delivery_date": None, "carrier_detail": None}, None),
    ({}, None),
])
def test_estimated_delivery(fields, expected):
    assert parse_tracker(_tracker(**fields)).estimated_delivery == expected


# --- malformed payloads -------------------------------------------------------------------

@pytest.mark.parametrize(("body", "field"), [
    (b"not json", "body"),
    (b"\xff\xfe", "body"),
    (b"{" * 100_000, "body"),
    (b'"Event"', "body"),
    (b'{"object": "Tracker", "description": "tracker.updated"}', "object"),
    (b'{"object": "Event"}', "description"),
    (b'{"object": "Event", "description": ["tracker.updated"]}', "description"),
    (_event(None), "result"),
    (_event([]), "result"),
    (_event(_tracker(object="Shipment")), "result.object"),
    (_event(_tracker(tracking_code=None)), "result.tracking_code"),
    (_event(_tracker(tracking_code=42)), "result.tracking_code"),
    (_event(_tracker(status=None)), "result.status"),
    (_event(_tracker(tracking_details={"0": {}})), "result.tracking_details"),
    (_event(_tracker(tracking_details=[7])), "result.tracking_details[0]"),
    (_event(_tracker(tracking_details=[_detail(dt=None)])), "result.tracking_details[0].datetime"),
    (_event(_tracker(tracking_details=[_detail("31/12/2026")])),
     "result.tracking_details[0].datetime"),
    (_event(_tracker(tracking_details=[_detail(status=None)])),
     "result.tracking_details[0].status"),
    (_event(_tracker(tracking_details=[_detail(tracking_location="HOUSTON")])),
     "result.tracking_details[0].tracking_location"),
    (_event(_tracker(tracking_details=[_detail(tracking_location={"city": 1})])),
     "result.tracking_details[0].tracking_location.city"),
    (_event(_tracker(est_delivery_date="next week")), "result.est_delivery_date"),
    (_event(_tracker(est_delivery_date=None, carrier_detail="x")), "result.carrier_detail"),
    (_event(_tracker(carrier=["UPS"])), "result.carrier"),
])
def test_malformed_payloads_name_the_field(body, field):
    reason = malformed_reason(parse_webhook, body)
    assert reason.startswith(field), reason


DETAIL = st.fixed_dictionaries({
    "datetime": st.sampled_from(["2026-11-18T10:00:00Z", "2026-11-18T10:00:00", "x"]) | JSON,
    "status": st.sampled_from(["in_transit", "delivered", "return_to_sender", "nope"]) | JSON,
    "status_detail": st.sampled_from(["arrived_at_facility", "lost", "nope", None]) | JSON,
})


@given(st.one_of(
    JSON,
    st.fixed_dictionaries({"description": st.just("tracker.updated"), "result": JSON}),
    st.fixed_dictionaries({"description": st.just("tracker.updated"),
                           "result": st.fixed_dictionaries({
                               "tracking_code": st.text(), "status": JSON,
                               "status_detail": JSON, "updated_at": JSON,
                               "tracking_details": st.lists(DETAIL, max_size=4)})}),
))
def test_any_json_either_parses_into_known_statuses_or_is_malformed(payload):
    assert_parses_or_is_malformed(parse_webhook, payload)
