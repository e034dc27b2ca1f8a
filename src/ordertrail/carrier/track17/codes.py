"""17TRACK code tables: package statuses and sub-statuses, carrier keys, API error codes.

Sources (see docs/carriers/track17.md): the 17TRACK API v2.2 documentation's status and
sub-status lists, its error codes, and its carrier list (``apicarrier.all.json``).
"""

from __future__ import annotations

from ordertrail.carrier.status import Status, substatus

# 17TRACK main status -> our status (the family of an unknown sub-status).
STATUS: dict[str, Status] = {
    "NotFound": Status.PENDING,
    "InfoReceived": Status.INFO_RECEIVED,
    "InTransit": Status.IN_TRANSIT,
    "Expired": Status.EXPIRED,
    "AvailableForPickup": Status.AVAILABLE_FOR_PICKUP,
    "OutForDelivery": Status.OUT_FOR_DELIVERY,
    "DeliveryFailure": Status.ATTEMPT_FAIL,
    "Delivered": Status.DELIVERED,
    "Exception": Status.EXCEPTION,
}

# 17TRACK sub_status -> our substatus.
SUB_STATUS: dict[str, str] = {
    "NotFound_Other": substatus(Status.PENDING, "not_found"),
    "NotFound_InvalidCode": substatus(Status.PENDING, "invalid_number"),
    "InfoReceived": substatus(Status.INFO_RECEIVED, "other"),
    "InTransit_PickedUp": substatus(Status.IN_TRANSIT, "picked_up"),
    "InTransit_Departure": substatus(Status.IN_TRANSIT, "departed"),
    "InTransit_Arrival": substatus(Status.IN_TRANSIT, "arrived"),
    "InTransit_CustomsProcessing": substatus(Status.IN_TRANSIT, "customs_processing"),
    "InTransit_CustomsReleased": substatus(Status.IN_TRANSIT, "customs_released"),
    "InTransit_CustomsRequiringInformation": substatus(Status.IN_TRANSIT,
                                                       "customs_info_required"),
    "InTransit_Other": substatus(Status.IN_TRANSIT, "other"),
    "Expired_Other": substatus(Status.EXPIRED, "no_update"),
    "AvailableForPickup_Other": substatus(Status.AVAILABLE_FOR_PICKUP, "other"),
    "OutForDelivery_Other": substatus(Status.OUT_FOR_DELIVERY, "out_for_delivery"),
    "DeliveryFailure_Other": substatus(Status.ATTEMPT_FAIL, "other"),
    "DeliveryFailure_NoBody": substatus(Status.ATTEMPT_FAIL, "no_one_home"),
    "DeliveryFailure_Security": substatus(Status.ATTEMPT_FAIL, "security"),
    "DeliveryFailure_Rejected": substatus(Status.ATTEMPT_FAIL, "refused"),
    "DeliveryFailure_InvalidAddress": substatus(Status.ATTEMPT_FAIL, "address_issue"),
    "Delivered_Other": substatus(Status.DELIVERED, "other"),
    "Exception_Other": substatus(Status.EXCEPTION, "other"),
    "Exception_Returning": substatus(Status.EXCEPTION, "returning"),
    "Exception_Returned": substatus(Status.EXCEPTION, "returned"),
    "Exception_NoBody": substatus(Status.EXCEPTION, "no_one_home"),
    "Exception_Security": substatus(Status.EXCEPTION, "security"),
    "Exception_Damage": substatus(Status.EXCEPTION, "damaged"),
    "Exception_Damaged": substatus(Status.EXCEPTION, "damaged"),  # spelling seen in the wild
    "Exception_Rejected": substatus(Status.EXCEPTION, "refused"),
    "Exception_Delayed": substatus(Status.EXCEPTION, "delayed"),
    "Exception_Lost": substatus(Status.EXCEPTION, "lost"),
    "Exception_Destroyed": substatus(Status.EXCEPTION, "destroyed"),
    "Exception_Cancel": substatus(Status.EXCEPTION, "cancelled"),
}

# Our courier slug -> 17TRACK carrier key. Only keys two independent listings agree on;
# every other courier is left to 17TRACK's auto-detection (see docs/carriers/track17.md).
CARRIER: dict[str, int] = {
    "dhl": 100001,        # DHL Express
    "ups": 100002,
    "fedex": 100003,
    "sf": 100012,         # SF Express
    "usps": 21051,
    "chinapost": 3011,    # China Post
    "ems": 3013,          # China EMS
    "cainiao": 190271,
    "yunda": 191197,
}
COURIER: dict[int, str] = {key: slug for slug, key in CARRIER.items()}

# API events (webhook ``event``).
TRACKING_UPDATED = "TRACKING_UPDATED"
TRACKING_STOPPED = "TRACKING_STOPPED"

# API error codes.
ALREADY_REGISTERED = -18019901
NOT_REGISTERED = -18019902
BAD_KEY: dict[int, str] = {
    -18010001: "the IP address is not in the 17TRACK whitelist",
    -18010002: "the 17TRACK security key is invalid",
    -18010004: "the 17TRACK account is disabled",
    -18010005: "unauthorized access",
}
MAX_NUMBERS_PER_CALL = 40
MAX_REQUESTS_PER_SECOND = 3.0
