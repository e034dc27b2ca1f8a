"""EasyPost's code tables: tracker status / status_detail and carrier names in our language.

Source: the Tracker object reference at docs.easypost.com/docs/trackers (see
docs/carriers/easypost.md). EasyPost publishes no status -> status_detail matrix, so a
detail refines the status it arrives with; only details that name an exception of their own
(lost, damaged, cancelled, ...) may move an event out of that status.
"""

from __future__ import annotations

from ordertrail.carrier.status import substatus

# Every documented ``status``, with what it means when the detail adds nothing.
STATUSES: dict[str, str] = {
    # "unknown": EasyPost has no meaningful update from the carrier yet.
    "unknown": substatus("pending", "not_found"),
    "pre_transit": substatus("info_received", "other"),
    "in_transit": substatus("in_transit", "other"),
    "out_for_delivery": substatus("out_for_delivery", "other"),
    "delivered": substatus("delivered", "other"),
    "available_for_pickup": substatus("available_for_pickup", "other"),
    "return_to_sender": substatus("exception", "returning"),
    "failure": substatus("exception", "other"),
    "cancelled": substatus("exception", "cancelled"),
    # The docs spell it "cancelled"; "canceled" is accepted too, as some clients spell it so.
    "canceled": substatus("exception", "cancelled"),
    # "error": EasyPost or the carrier could not process the tracker; someone must look.
    "error": substatus("exception", "other"),
}

# Every documented ``status_detail``.
DETAILS: frozenset[str] = frozenset({
    "address_correction", "arrived_at_destination", "arrived_at_facility",
    "arrived_at_pickup_location", "awaiting_information", "cancelled", "damaged", "delayed",
    "delivery_exception", "departed_facility", "departed_origin_facility", "expired",
    "failure", "held", "in_transit", "label_created", "lost", "missorted", "out_for_delivery",
    "received_at_destination_facility", "received_at_origin_facility", "refused", "return",
    "status_update", "transferred_to_destination_carrier", "transit_exception", "unknown",
    "weather_delay",
})

# (status, status_detail) pairs that say more than the status alone.
REFINE: dict[tuple[str, str], str] = {
    ("pre_transit", "label_created"): substatus("info_received", "label_created"),
    ("in_transit", "received_at_origin_facility"): substatus("in_transit", "picked_up"),
    ("in_transit", "arrived_at_facility"): substatus("in_transit", "arrived"),
    ("in_transit", "arrived_at_destination"): substatus("in_transit", "arrived"),
    ("in_transit", "received_at_destination_facility"): substatus("in_transit", "arrived"),
    ("in_transit", "arrived_at_pickup_location"): substatus("in_transit", "arrived"),
    ("in_transit", "departed_facility"): substatus("in_transit", "departed"),
    ("in_transit", "departed_origin_facility"): substatus("in_transit", "departed"),
    ("in_transit", "transferred_to_destination_carrier"): substatus("in_transit", "forwarded"),
    ("in_transit", "address_correction"): substatus("in_transit", "forwarded"),
    ("in_transit", "delayed"): substatus("in_transit", "delayed"),
    ("in_transit", "weather_delay"): substatus("in_transit", "delayed"),
    ("in_transit", "missorted"): substatus("in_transit", "delayed"),
    ("in_transit", "held"): substatus("in_transit", "delayed"),
    ("out_for_delivery", "out_for_delivery"): substatus("out_for_delivery", "out_for_delivery"),
    # Out for delivery, then a delivery exception: the attempt failed.
    ("out_for_delivery", "delivery_exception"): substatus("attempt_fail", "other"),
    ("failure", "address_correction"): substatus("exception", "address_issue"),
    ("failure", "delayed"): substatus("exception", "delayed"),
    ("failure", "weather_delay"): substatus("exception", "delayed"),
}

# Details that are an exception whatever status they come with (except "delivered", which
# nothing overrides). They never replace a sticky status (return_to_sender, cancelled) with
# a non-sticky one: a refused parcel on its way back is still on its way back.
ESCALATE: dict[str, str] = {
    "cancelled": substatus("exception", "cancelled"),
    "lost": substatus("exception", "lost"),
    "damaged": substatus("exception", "damaged"),
    "refused": substatus("exception", "refused"),
    "return": substatus("exception", "returning"),
    "delivery_exception": substatus("exception", "other"),
    "transit_exception": substatus("exception", "other"),
}

# EasyPost carrier names (Tracker.carrier, compared case-insensitively) -> our courier slugs.
CARRIERS: dict[str, str] = {
    "usps": "usps",
    "ups": "ups",
    "upsdap": "ups",
    "upsmailinnovations": "ups",
    "fedex": "fedex",
    "fedexdefault": "fedex",
    "fedexsmartpost": "fedex",
    "dhlexpress": "dhl",
    "canadapost": "canada_post",
    "canpar": "canpar",
    "purolator": "purolator",
    "ontrac": "ontrac",
    "lasership": "lasership",
    "dpd": "dpd",
    "dpduk": "dpd",
    "amazonshipping": "amazon",
}
