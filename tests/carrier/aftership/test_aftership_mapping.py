"""Every AfterShip tag, subtag and courier slug lands on the status a user would expect."""

from __future__ import annotations

import pytest

from ordertrail.carrier import couriers
from ordertrail.carrier.aftership import codes
from ordertrail.carrier.aftership.parse import map_code
from ordertrail.carrier.status import SUBSTATUSES

# The expectation, written out from AfterShip's "Delivery Sub-statuses" table.
SUBTAGS = {
    "Pending_001": "pending.not_found",
    "InfoReceived_001": "info_received.label_created",
    "InTransit_001": "in_transit.other",
    "InTransit_002": "in_transit.picked_up",
    "InTransit_003": "in_transit.arrived",
    "InTransit_004": "in_transit.arrived",
    "InTransit_005": "in_transit.customs_released",
    "InTransit_006": "in_transit.customs_processing",
    "InTransit_007": "in_transit.departed",
    "InTransit_008": "in_transit.other",
    "InTransit_009": "in_transit.forwarded",
    "OutForDelivery_001": "out_for_delivery.out_for_delivery",
    "OutForDelivery_002": "available_for_pickup.other",
    "OutForDelivery_003": "out_for_delivery.contact_customer",
    "OutForDelivery_004": "out_for_delivery.appointment",
    "AttemptFail_001": "attempt_fail.other",
    "AttemptFail_002": "attempt_fail.no_one_home",
    "AttemptFail_003": "attempt_fail.business_closed",
    "Delivered_001": "delivered.other",
    "Delivered_002": "delivered.picked_up",
    "Delivered_003": "delivered.signed",
    "Delivered_004": "delivered.cod_collected",
    "Delivered_005": "delivered.signed_by_proxy",
    "AvailableForPickup_001": "available_for_pickup.other",
    "Exception_001": "exception.other",
    "Exception_002": "exception.address_issue",
    "Exception_003": "exception.refused",
    "Exception_004": "exception.customs_held",
    "Exception_005": "exception.delayed",
    "Exception_006": "exception.other",
    "Exception_007": "exception.address_issue",
    "Exception_008": "exception.other",
    "Exception_009": "exception.other",
    "Exception_010": "exception.returning",
    "Exception_011": "exception.returned",
    "Exception_012": "exception.damaged",
    "Exception_013": "exception.lost",
    "Exception_016": "exception.delayed",
    "Exception_017": "exception.delayed",
    "Exception_018": "exception.customs_held",
    "Exception_019": "exception.delayed",
    "Exception_020": "exception.cancelled",
    "Exception_021": "exception.destroyed",
    "Expired_001": "expired.no_update",
}

TAGS = {
    "Pending": "pending.other",
    "InfoReceived": "info_received.other",
    "InTransit": "in_transit.other",
    "OutForDelivery": "out_for_delivery.other",
    "AttemptFail": "attempt_fail.other",
    "Delivered": "delivered.other",
    "AvailableForPickup": "available_for_pickup.other",
    "Exception": "exception.other",
    "Expired": "expired.no_update",
}


@pytest.mark.parametrize(("subtag", "expected"), SUBTAGS.items())
def test_every_documented_subtag_maps(subtag, expected):
    tag = subtag.split("_")[0]
    assert map_code(tag, subtag) == (expected, True)
    assert map_code(None, subtag) == (expected, True)  # the subtag alone is enough


def test_the_tables_hold_exactly_the_documented_codes_and_only_known_substatuses():
    assert codes.SUBTAGS == SUBTAGS
    assert codes.TAGS == TAGS
    assert set(codes.SUBTAGS.values()) | set(codes.TAGS.values()) <= SUBSTATUSES


def test_the_brief_s_subtag_ranges_are_all_covered():
    ranges = {"Pending": 1, "InfoReceived": 1, "InTransit": 9, "OutForDelivery": 4,
              "AttemptFail": 3, "Delivered": 4, "AvailableForPickup": 1, "Exception": 13,
              "Expired": 1}
    for tag, last in ranges.items():
        for n in range(1, last + 1):
            assert map_code(tag, f"{tag}_{n:03d}")[1], f"{tag}_{n:03d}"


@pytest.mark.parametrize(("tag", "expected"), TAGS.items())
def test_a_tag_without_subtag_means_that_status_without_detail(tag, expected):
    assert map_code(tag, None) == (expected, True)
    assert map_code(tag, "") == (expected, True)


@pytest.mark.parametrize(("tag", "subtag", "expected"), [
    ("Exception", "Exception_014", "exception.unknown"),   # known tag, undocumented subtag
    ("Delivered", "Delivered_099", "delivered.unknown"),
    ("Pending", "Pending_003", "pending.unknown"),
    (None, "InTransit_042", "in_transit.unknown"),        # no tag: the subtag's prefix
    ("OnHold", "OnHold_001", "pending.unknown"),          # nothing known: never "in transit"
    ("OnHold", None, "pending.unknown"),
    ("", "", "pending.unknown"),
])
def test_unmapped_codes_fall_back_to_the_nearest_safe_unknown(tag, subtag, expected):
    assert map_code(tag, subtag) == (expected, False)


def test_a_known_subtag_wins_over_a_conflicting_tag():
    assert map_code("InTransit", "Delivered_003") == ("delivered.signed", True)


@pytest.mark.parametrize(("theirs", "ours"), [
    ("sf-express", "sf"), ("yto", "yto"), ("zto-express", "zto"), ("sto", "sto"),
    ("yunda", "yunda"), ("china-ems", "ems"), ("jd", "jd"), ("jtexpress", "jtexpress"),
    ("deppon", "deppon"), ("cainiao", "cainiao"), ("ups", "ups"), ("usps", "usps"),
    ("fedex", "fedex"), ("dhl", "dhl"), ("canada-post", "canada_post"),
])
def test_courier_slugs_map_to_ours(theirs, ours):
    assert codes.COURIERS[theirs] == ours


def test_every_courier_we_map_to_is_a_courier_ordertrail_knows():
    for ours in codes.COURIERS.values():
        assert couriers.courier(ours) is not None, ours
    for ours in codes.COURIER_TZ:
        assert couriers.courier(ours) is not None, ours
