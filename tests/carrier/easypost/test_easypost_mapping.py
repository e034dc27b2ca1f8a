"""Every EasyPost status and status_detail lands on the status a user would expect."""

from __future__ import annotations

import itertools

import pytest

from ordertrail.carrier import couriers
from ordertrail.carrier.easypost import codes
from ordertrail.carrier.easypost.parse import map_code
from ordertrail.carrier.status import STICKY, SUBSTATUSES

# Written out from docs.easypost.com/docs/trackers.
STATUSES = {
    "unknown": "pending.not_found",
    "pre_transit": "info_received.other",
    "in_transit": "in_transit.other",
    "out_for_delivery": "out_for_delivery.other",
    "delivered": "delivered.other",
    "available_for_pickup": "available_for_pickup.other",
    "return_to_sender": "exception.returning",
    "failure": "exception.other",
    "cancelled": "exception.cancelled",
    "error": "exception.other",
}
DETAILS = [
    "address_correction", "arrived_at_destination", "arrived_at_facility",
    "arrived_at_pickup_location", "awaiting_information", "cancelled", "damaged", "delayed",
    "delivery_exception", "departed_facility", "departed_origin_facility", "expired", "failure",
    "held", "in_transit", "label_created", "lost", "missorted", "out_for_delivery",
    "received_at_destination_facility", "received_at_origin_facility", "refused", "return",
    "status_update", "transferred_to_destination_carrier", "transit_exception", "unknown",
    "weather_delay",
]


@pytest.mark.parametrize(("status", "expected"), STATUSES.items())
def test_every_status_without_detail(status, expected):
    assert map_code(status, None) == (expected, True)
    assert map_code(status, "") == (expected, True)


@pytest.mark.parametrize(("status", "detail", "expected"), [
    ("pre_transit", "label_created", "info_received.label_created"),
    ("pre_transit", "status_update", "info_received.other"),
    ("pre_transit", "awaiting_information", "info_received.other"),
    ("in_transit", "received_at_origin_facility", "in_transit.picked_up"),
    ("in_transit", "arrived_at_facility", "in_transit.arrived"),
    ("in_transit", "arrived_at_destination", "in_transit.arrived"),
    ("in_transit", "received_at_destination_facility", "in_transit.arrived"),
    ("in_transit", "arrived_at_pickup_location", "in_transit.arrived"),
    ("in_transit", "departed_facility", "in_transit.departed"),
    ("in_transit", "departed_origin_facility", "in_transit.departed"),
    ("in_transit", "transferred_to_destination_carrier", "in_transit.forwarded"),
    ("in_transit", "address_correction", "in_transit.forwarded"),
    ("in_transit", "delayed", "in_transit.delayed"),
    ("in_transit", "weather_delay", "in_transit.delayed"),
    ("in_transit", "missorted", "in_transit.delayed"),
    ("in_transit", "held", "in_transit.delayed"),
    ("in_transit", "status_update", "in_transit.other"),
    ("in_transit", "unknown", "in_transit.other"),
    ("in_transit", "transit_exception", "exception.other"),
    ("in_transit", "lost", "exception.lost"),
    ("in_transit", "damaged", "exception.damaged"),
    ("in_transit", "return", "exception.returning"),
    ("out_for_delivery", "out_for_delivery", "out_for_delivery.out_for_delivery"),
    ("out_for_delivery", "delivery_exception", "attempt_fail.other"),
    ("out_for_delivery", "refused", "exception.refused"),
    ("available_for_pickup", "arrived_at_pickup_location", "available_for_pickup.other"),
    ("delivered", "arrived_at_destination", "delivered.other"),
    ("delivered", "lost", "delivered.other"),              # nothing overrides delivered
    ("failure", "address_correction", "exception.address_issue"),
    ("failure", "delayed", "exception.delayed"),
    ("failure", "weather_delay", "exception.delayed"),
    ("failure", "delivery_exception", "exception.other"),
    ("failure", "refused", "exception.refused"),
    ("failure", "lost", "exception.lost"),
    ("failure", "damaged", "exception.damaged"),
    ("failure", "cancelled", "exception.cancelled"),
    ("failure", "return", "exception.returning"),
    ("return_to_sender", "return", "exception.returning"),
    ("return_to_sender", "in_transit", "exception.returning"),
    ("return_to_sender", "refused", "exception.returning"),  # still on its way back
    ("return_to_sender", "cancelled", "exception.cancelled"),
    ("cancelled", "return", "exception.cancelled"),
    ("pre_transit", "cancelled", "exception.cancelled"),
    ("error", "unknown", "exception.other"),
    ("unknown", "status_update", "pending.not_found"),
])
def test_status_detail_pairs(status, detail, expected):
    assert map_code(status, detail) == (expected, True)


def test_every_documented_pair_maps_to_a_known_substatus_without_losing_a_sticky_one():
    assert frozenset(DETAILS) == codes.DETAILS
    for status, detail in itertools.product(STATUSES, DETAILS):
        sub, mapped = map_code(status, detail)
        assert mapped and sub in SUBSTATUSES, (status, detail)
        if STATUSES[status] in STICKY:
            assert sub in STICKY, (status, detail)
        if status == "delivered":
            assert sub.startswith("delivered."), detail


def test_the_tables_use_only_known_substatuses():
    values = [*codes.STATUSES.values(), *codes.REFINE.values(), *codes.ESCALATE.values()]
    assert set(values) <= SUBSTATUSES
    assert {k for k, _ in codes.REFINE} <= set(codes.STATUSES)
    assert {d for _, d in codes.REFINE} | set(codes.ESCALATE) <= codes.DETAILS


def test_canceled_is_read_like_cancelled():
    assert map_code("canceled", None) == ("exception.cancelled", True)


@pytest.mark.parametrize(("status", "detail", "expected"), [
    ("in_transit", "customs_inspection", "in_transit.unknown"),
    ("out_for_delivery", "drone_launched", "out_for_delivery.unknown"),
    ("failure", "something_new", "exception.unknown"),
    ("held_by_customs", None, "pending.unknown"),     # an unknown status is never "in transit"
    ("held_by_customs", "arrived_at_facility", "pending.unknown"),
    (None, None, "pending.unknown"),
])
def test_unmapped_codes_fall_back_to_the_nearest_safe_unknown(status, detail, expected):
    assert map_code(status, detail) == (expected, False)


def test_a_sticky_status_decides_on_its_own_even_with_an_undocumented_detail():
    assert map_code("return_to_sender", "something_new") == ("exception.returning", True)
    assert map_code("cancelled", "something_new") == ("exception.cancelled", True)


@pytest.mark.parametrize(("theirs", "ours"), [
    ("UPS", "ups"), ("USPS", "usps"), ("FedEx", "fedex"), ("DHLExpress", "dhl"),
    ("UPSDAP", "ups"), ("FedExSmartPost", "fedex"), ("CanadaPost", "canada_post"),
    ("AmazonShipping", "amazon"),
])
def test_carrier_names_map_to_our_courier_slugs(theirs, ours):
    assert codes.CARRIERS[theirs.lower()] == ours
    assert couriers.courier(ours) is not None
