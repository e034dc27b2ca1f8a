"""17TRACK statuses, sub-statuses, times and stops, from recorded v2.2 pushes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ordertrail.carrier.base import MalformedPayload
from ordertrail.carrier.status import SUBSTATUSES
from ordertrail.carrier.track17 import codes, parse

DATA = Path(__file__).parent / "data"


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def push(name: str):
    return parse.parse_push((DATA / name).read_bytes())


# Every documented v2.2 sub-status, written out independently of codes.SUB_STATUS.
EXPECTED = {
    "NotFound_Other": "pending.not_found",
    "NotFound_InvalidCode": "pending.invalid_number",
    "InfoReceived": "info_received.other",
    "InTransit_PickedUp": "in_transit.picked_up",
    "InTransit_Departure": "in_transit.departed",
    "InTransit_Arrival": "in_transit.arrived",
    "InTransit_CustomsProcessing": "in_transit.customs_processing",
    "InTransit_CustomsReleased": "in_transit.customs_released",
    "InTransit_CustomsRequiringInformation": "in_transit.customs_info_required",
    "InTransit_Other": "in_transit.other",
    "Expired_Other": "expired.no_update",
    "AvailableForPickup_Other": "available_for_pickup.other",
    "OutForDelivery_Other": "out_for_delivery.out_for_delivery",
    "DeliveryFailure_Other": "attempt_fail.other",
    "DeliveryFailure_NoBody": "attempt_fail.no_one_home",
    "DeliveryFailure_Security": "attempt_fail.security",
    "DeliveryFailure_Rejected": "attempt_fail.refused",
    "DeliveryFailure_InvalidAddress": "attempt_fail.address_issue",
    "Delivered_Other": "delivered.other",
    "Exception_Other": "exception.other",
    "Exception_Returning": "exception.returning",
    "Exception_Returned": "exception.returned",
    "Exception_NoBody": "exception.no_one_home",
    "Exception_Security": "exception.security",
    "Exception_Damage": "exception.damaged",
    "Exception_Damaged": "exception.damaged",
    "Exception_Rejected": "exception.refused",
    "Exception_Delayed": "exception.delayed",
    "Exception_Lost": "exception.lost",
    "Exception_Destroyed": "exception.destroyed",
    "Exception_Cancel": "exception.cancelled",
}


@pytest.mark.parametrize(("code", "expected"), sorted(EXPECTED.items()))
def test_every_sub_status_maps_to_the_unified_vocabulary(code, expected):
    assert parse.map_sub_status(code) == (expected, True)
    assert expected in SUBSTATUSES


def test_the_table_has_no_sub_status_the_test_does_not_know():
    assert set(codes.SUB_STATUS) == set(EXPECTED)


@pytest.mark.parametrize(("status", "family"), [
    ("NotFound", "pending"), ("InfoReceived", "info_received"), ("InTransit", "in_transit"),
    ("Expired", "expired"), ("AvailableForPickup", "available_for_pickup"),
    ("OutForDelivery", "out_for_delivery"), ("DeliveryFailure", "attempt_fail"),
    ("Delivered", "delivered"), ("Exception", "exception"),
])
def test_an_unknown_sub_status_falls_back_to_its_main_statuss_unknown(status, family):
    assert parse.map_sub_status(f"{status}_SomethingNew") == (f"{family}.unknown", False)


def test_a_sub_status_of_no_known_family_falls_back_to_pending_or_the_main_status():
    assert parse.map_sub_status("Mystery_Status") == ("pending.unknown", False)
    assert parse.map_sub_status("Mystery_Status", "Delivered") == ("delivered.unknown", False)


def test_updated_push_merges_both_carriers_oldest_first_in_utc():
    [update] = push("push_updated_transit.json")
    assert update.tracking_number == "LX123456789CN"
    assert update.courier == "chinapost"
    assert not update.stopped
    assert update.unmapped == ()
    assert [e.code for e in update.events] == [
        "InfoReceived", "InTransit_PickedUp", "InTransit_Departure",
        "InTransit_CustomsProcessing", "InTransit_CustomsReleased", "OutForDelivery_Other"]
    assert update.events[1].occurred_at == datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
    assert update.events[1].substatus == "in_transit.picked_up"
    assert update.events[1].location == "义乌市"
    assert update.events[0].location == "CN"  # no location text: the address stands in
    assert update.events[-1].status == "out_for_delivery"
    assert all(e.occurred_at.tzinfo is UTC for e in update.events)


def test_time_iso_with_an_offset_is_used_when_time_utc_is_missing():
    [update] = push("push_updated_transit.json")
    customs = next(e for e in update.events if e.code == "InTransit_CustomsProcessing")
    assert customs.occurred_at == datetime(2026, 11, 23, 17, 30, tzinfo=UTC)


def test_time_without_offset_is_read_in_the_default_zone():
    china = timezone(timedelta(hours=8))
    assert parse.parse_time("2026-11-20T10:00:00", "x", china) == datetime(
        2026, 11, 20, 2, 0, tzinfo=UTC)
    assert parse.parse_time("2026-11-20T10:00:00Z", "x", china) == datetime(
        2026, 11, 20, 10, 0, tzinfo=UTC)


def test_estimated_delivery_is_the_end_of_the_window():
    [update] = push("push_updated_transit.json")
    assert update.estimated_delivery == datetime(2026, 11, 26, 7, 59, 59, tzinfo=UTC)


def test_estimated_delivery_falls_back_to_the_start_or_none():
    body = load("push_updated_transit.json")
    edd = body["data"]["track_info"]["time_metrics"]["estimated_delivery_date"]
    edd["to"] = None
    [update] = parse.parse_push(json.dumps(body).encode())
    assert update.estimated_delivery == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    edd["from"] = None
    [update] = parse.parse_push(json.dumps(body).encode())
    assert update.estimated_delivery is None


def test_delivered_push_after_a_failed_attempt():
    [update] = push("push_updated_delivered.json")
    assert update.courier == "ups"
    assert [e.substatus for e in update.events] == [
        "attempt_fail.security", "out_for_delivery.out_for_delivery", "delivered.other"]
    assert update.events[-1].occurred_at == datetime(2026, 11, 25, 16, 37, tzinfo=UTC)


def test_returned_push_is_an_exception():
    [update] = push("push_updated_returned.json")
    assert [e.substatus for e in update.events] == ["exception.returning",
                                                    "exception.returned"]


def test_stopped_push_stops_tracking_and_says_why():
    [update] = push("push_stopped.json")
    assert update.tracking_number == "1Z999AA10123456784"
    assert update.courier == "ups"
    assert update.stopped
    assert "retrack" in update.stop_reason
    assert len(update.stop_reason) <= 200
    assert update.events == ()


def test_unmapped_sub_statuses_are_kept_on_the_event_and_listed():
    [update] = push("push_unmapped.json")
    assert update.courier is None  # a carrier key we do not map
    assert [(e.code, e.substatus) for e in update.events] == [
        ("Mystery_Status", "pending.unknown"), ("Exception_Goat", "exception.unknown"),
        ("InTransit_Teleported", "in_transit.unknown")]
    assert update.unmapped == ("InTransit_Teleported", "Exception_Goat", "Mystery_Status")


def test_gettrackinfo_answer_gives_one_update_per_accepted_number():
    updates = parse.parse_track_response(load("gettrackinfo_ok.json"))
    assert [u.tracking_number for u in updates] == ["LX123456789CN", "1Z999AA10123456784"]


def test_a_number_without_track_info_yet_has_no_events():
    update = parse.parse_track({"number": "RR1", "carrier": 3011, "track_info": None})
    assert update.events == () and update.courier == "chinapost"


def _mutated(change) -> bytes:
    body = load("push_updated_transit.json")
    change(body)
    return json.dumps(body, ensure_ascii=False).encode()


def _first_event(body: dict) -> dict:
    return body["data"]["track_info"]["tracking"]["providers"][0]["events"][0]


P = r"data\.track_info\.tracking\.providers"


@pytest.mark.parametrize(("change", "reason"), [
    (lambda b: b.__setitem__("event", "TRACKING_EXPLODED"), "^event: unknown event"),
    (lambda b: b.pop("event"), "^event: unknown event None"),
    (lambda b: b.__setitem__("data", None), "^data: expected a JSON object"),
    (lambda b: b["data"].pop("number"), r"^data\.number: missing"),
    (lambda b: b["data"].__setitem__("track_info", "x"), r"^data\.track_info: expected"),
    (lambda b: b["data"]["track_info"]["tracking"].__setitem__("providers", {}),
     P + ": expected a list"),
    (lambda b: _first_event(b).pop("sub_status"), P + r"\[0\]\.events\[0\]\.sub_status: missing"),
    (lambda b: _first_event(b).update(time_utc="soon"),
     P + r"\[0\]\.events\[0\]\.time_utc: 'soon' is not an ISO 8601 time"),
    (lambda b: _first_event(b).update(time_utc=None, time_iso=None),
     P + r"\[0\]\.events\[0\]\.time_utc: missing"),
    (lambda b: _first_event(b).__setitem__("description", 7),
     P + r"\[0\]\.events\[0\]\.description: expected a string"),
    (lambda b: b["data"]["track_info"]["time_metrics"]["estimated_delivery_date"].update(
        to="next week"), r"estimated_delivery_date\.to: 'next week'"),
])
def test_malformed_pushes_name_the_field(change, reason):
    with pytest.raises(MalformedPayload, match=reason):
        parse.parse_push(_mutated(change))


def test_a_body_that_is_not_an_object_is_malformed():
    with pytest.raises(MalformedPayload, match=r"^body: expected a JSON object"):
        parse.parse_push(b"[]")


@pytest.mark.parametrize(("slug", "key"), [
    ("dhl", 100001), ("ups", 100002), ("fedex", 100003), ("usps", 21051), ("sf", 100012),
    ("chinapost", 3011), ("ems", 3013), ("cainiao", 190271), ("yunda", 191197),
])
def test_carrier_keys_both_directions(slug, key):
    assert codes.CARRIER[slug] == key
    assert codes.COURIER[key] == slug
